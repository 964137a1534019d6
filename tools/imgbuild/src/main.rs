//! imgbuild: build a container image through the Docker Engine API. All logic is in ekskit-image.

use std::process::ExitCode;

use ekskit_image::cli::Args;

fn main() -> ExitCode {
    let args: Args = ekskit_core::run::parse_args("imgbuild");
    let global = args.global.clone();
    ekskit_core::run::main("imgbuild", &global, ekskit_image::run(args))
}
