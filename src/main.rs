//! The `ferrokeeper` binary.

fn main() {
    println!("ferrokeeper {}", env!("CARGO_PKG_VERSION"));
}
