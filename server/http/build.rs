//! The admin UI is embedded (rust-embed); make cargo rebuild when a file of
//! it is added or changed, not only when Rust code changes. The browser
//! tests' folder (with its node_modules) is not part of the UI.
fn main() {
    for path in ["index.html", "app.css", "icon.svg", "js"] {
        println!("cargo:rerun-if-changed=../../web-admin/{path}");
    }
}
