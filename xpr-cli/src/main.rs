//! The `xpr` command: a thin layer over the xpr library. OWNER: CLI. Skeleton.

fn main() {
    println!("xpr: not yet");
}
