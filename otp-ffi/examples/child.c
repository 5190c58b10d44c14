/*
 * A child program in C, as a host application starts it: with the two keys
 * as its only arguments.
 *
 *     OTP_LINK_STORE=/srv/app/store.cbor ./child USER_KEY PASS_KEY
 *
 * It recovers the credentials through libotp_link from the store at the
 * default location ($OTP_LINK_STORE, else the per-user data directory) and
 * uses them without printing them: like otp-core/examples/child.rs, it
 * reports only their lengths and a fingerprint that tests can compare. A
 * real child hands them to its database driver and wipes them as soon as
 * the connection is made.
 *
 * On failure it prints the library's one-line message and exits with the
 * return code, which is otp-link's exit code for the same failure (README,
 * "Exit codes").
 *
 * Build, statically linked (cargo build --release -p otp-ffi first):
 *
 *     cc -I otp-ffi/include otp-ffi/examples/child.c \
 *        target/release/libotp_link.a -lpthread -ldl -lm -o child
 *
 * or against the shared library:
 *
 *     cc -I otp-ffi/include otp-ffi/examples/child.c \
 *        -L target/release -lotp_link -Wl,-rpath,"$PWD/target/release" -o child
 */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "otp_link.h"

/* A non-secret digest of a value (FNV-1a), the one the Rust child prints. */
static uint64_t fingerprint(const char *value, size_t len)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ (unsigned char)value[i]) * 0x100000001b3u;
    }
    return h;
}

/* Zeroes a buffer in a way the compiler may not leave out as a dead store
 * (memset before the end of a buffer's life may be). */
static void wipe(char *buf, size_t len)
{
    volatile char *p = buf;
    while (len--) {
        *p++ = 0;
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: child USER_KEY PASS_KEY\n");
        return 2;
    }
    if (otp_link_abi_version() != OTP_LINK_ABI_VERSION) {
        fprintf(stderr, "child: libotp_link has ABI version %" PRIu32
                        ", this program was built for %d; rebuild it against the library's header\n",
                otp_link_abi_version(), OTP_LINK_ABI_VERSION);
        return 1;
    }

    /* One byte more than the longest value: the library zeroes the rest of
     * each buffer, so both hold C strings too. */
    char user[OTP_LINK_MAX_VALUE_LEN + 1];
    char pass[OTP_LINK_MAX_VALUE_LEN + 1];
    size_t user_len = 0, pass_len = 0;
    int code = otp_link_recover(NULL, argv[1], argv[2],
                                user, sizeof user, &user_len,
                                pass, sizeof pass, &pass_len);
    if (code != OTP_LINK_OK) {
        /* What went wrong in particular; the generic text for the code if
         * the message does not fit. */
        char message[1024];
        if (otp_link_last_error(message, sizeof message, NULL) != OTP_LINK_OK) {
            otp_link_strerror(code, message, sizeof message);
        }
        fprintf(stderr, "child: %s\n", message);
        return code;
    }

    /* Here a real child connects, e.g. PQsetdbLogin(host, port, NULL, NULL,
     * db, user, pass). Never print or log the values themselves. */
    uint64_t print = fingerprint(user, user_len);
    uint64_t pass_print = fingerprint(pass, pass_len);
    print ^= (pass_print << 1) | (pass_print >> 63);
    printf("recovered a %zu-byte username and a %zu-byte password; fingerprint %016" PRIx64 "\n",
           user_len, pass_len, print);

    wipe(user, sizeof user);
    wipe(pass, sizeof pass);
    return 0;
}
