//! The `xpr` command: a thin layer over the xpr library (see the `xpr_cli` library crate).

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(xpr_cli::main_with_args(std::env::args_os()))
}
