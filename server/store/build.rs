//! The migrations are embedded (rust-embed); make cargo rebuild when one is
//! added or changed, not only when Rust code changes.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations/postgres");
    println!("cargo:rerun-if-changed=../../migrations/sqlite");
}
