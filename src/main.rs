use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = orgd::cli::Cli::parse();
    orgd::observability::logging::init(cli.log_format, cli.access_log);
    match orgd::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("orgd: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
