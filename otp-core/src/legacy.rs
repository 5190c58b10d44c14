//! Secure-Python-Link import (in progress).
