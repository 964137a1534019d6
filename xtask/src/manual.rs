//! Shell completions (bash, zsh, fish) and man pages of every tool, from their clap
//! definitions: what the former lib/docgen wrote, byte for byte.

use std::path::PathBuf;

use clap_complete::Shell;

use crate::tools::Tool;

/// completions/<shell>/<file> and man/<tool>.1 of one tool, by path.
pub fn files(tool: &Tool) -> anyhow::Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut files = Vec::new();
    let mut command = tool.command.clone();
    let name = command.get_name().to_owned();
    for (shell, file) in
        [(Shell::Bash, name.clone()), (Shell::Zsh, format!("_{name}")), (Shell::Fish, format!("{name}.fish"))]
    {
        let mut buffer = Vec::new();
        clap_complete::generate(shell, &mut command, &name, &mut buffer);
        files.push((PathBuf::from("completions").join(shell.to_string()).join(file), buffer));
    }
    let mut buffer = Vec::new();
    clap_mangen::Man::new(command).render(&mut buffer)?;
    files.push((PathBuf::from("man").join(format!("{name}.1")), buffer));
    Ok(files)
}
