//! The `repowatch` CLI, built inside the test package so tests can spawn it.

fn main() -> std::process::ExitCode {
    repowatch::cli::main()
}
