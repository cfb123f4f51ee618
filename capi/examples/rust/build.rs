// Link libptx from PTX_LIB_DIR (the `libdir` of `python -m ptx.runtime.capi --libdir`).
fn main() {
    println!("cargo:rerun-if-env-changed=PTX_LIB_DIR");
    if let Ok(dir) = std::env::var("PTX_LIB_DIR") {
        println!("cargo:rustc-link-search=native={dir}");
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
    println!("cargo:rustc-link-lib=dylib=ptx");
}
