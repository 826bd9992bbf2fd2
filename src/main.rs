use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("ORGD_LOG")
                .unwrap_or_else(|_| EnvFilter::new("info,sea_orm_migration=warn,sqlx=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = orgd::cli::Cli::from_env();
    match orgd::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("orgd: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
