//! On macOS an extension module links with `-undefined dynamic_lookup`,
//! since Python's symbols come from the interpreter that loads it; pyo3
//! says so here for `cargo build`, as maturin does for wheels.

fn main() {
    pyo3_build_config::add_extension_module_link_args();
}
