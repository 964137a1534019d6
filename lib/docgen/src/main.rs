//! ekskit-docgen: shell completions (bash, zsh, fish) and man pages of every tool, from their
//! clap definitions: `make completions` writes them into completions/ and man/, and a test
//! checks the committed ones have not drifted.
//!
//! usage: ekskit-docgen OUT_DIR   (writes OUT_DIR/completions/<shell>/… and OUT_DIR/man/<tool>.1)

use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;

fn tools() -> Vec<clap::Command> {
    vec![
        ekskit_vpc::cli::Args::command(),
        ekskit_eks::cli::Args::command(),
        ekskit_kube::cli::Args::command(),
        ekskit_image::cli::Args::command(),
        ekskit_registry::cli::Args::command(),
        ekskit_bump::cli::Args::command(),
        ekskit_mon::cli::Args::command(),
        ekskit_pipeline::cli::Args::command(),
    ]
}

fn main() -> anyhow::Result<()> {
    let out = std::env::args().nth(1).ok_or_else(|| anyhow::anyhow!("usage: ekskit-docgen OUT_DIR"))?;
    generate(Path::new(&out))
}

fn generate(out: &Path) -> anyhow::Result<()> {
    for mut command in tools() {
        let name = command.get_name().to_owned();
        for (shell, file) in
            [(Shell::Bash, name.clone()), (Shell::Zsh, format!("_{name}")), (Shell::Fish, format!("{name}.fish"))]
        {
            let dir = out.join("completions").join(shell.to_string());
            std::fs::create_dir_all(&dir)?;
            let mut buffer = Vec::new();
            clap_complete::generate(shell, &mut command, &name, &mut buffer);
            std::fs::write(dir.join(file), buffer)?;
        }
        let man = out.join("man");
        std::fs::create_dir_all(&man)?;
        let mut buffer = Vec::new();
        clap_mangen::Man::new(command.clone()).render(&mut buffer)?;
        std::fs::write(man.join(format!("{name}.1")), buffer)?;
    }
    Ok(())
}
