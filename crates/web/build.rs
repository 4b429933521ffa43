//! The page's files are embedded when this crate compiles: a change to any of them (or a new
//! file) must compile it again. rust-embed's `include_bytes!` tracks the files it found, not
//! the folders, so a file added to `web/app/` would otherwise be missed.
fn main() {
    for dir in ["index.html", "app", "i18n", "vendor"] {
        println!("cargo:rerun-if-changed=../../web/{dir}");
    }
}
