//! `repowatch`: see `repowatch --help`, README.md and docs/.

fn main() -> std::process::ExitCode {
    repowatch::cli::main()
}
