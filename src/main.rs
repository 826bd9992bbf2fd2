fn main() -> std::process::ExitCode {
    // Before the runtime starts its threads, so that none has an arena of its own yet.
    orgd::memory::limit_allocator_arenas();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts")
        .block_on(run())
}

async fn run() -> std::process::ExitCode {
    let cli = orgd::cli::Cli::from_env();
    let traces = match orgd::observability::logging::init(
        cli.log_format,
        cli.access_log,
        cli.otlp_endpoint.as_deref(),
    ) {
        Ok(traces) => traces,
        Err(e) => {
            eprintln!("orgd: --otlp-endpoint: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let outcome = orgd::cli::run(cli).await;
    if let Some(provider) = traces {
        // The exporter's thread sends the spans still queued; it blocks while it does.
        let _ = tokio::task::spawn_blocking(move || provider.shutdown()).await;
    }
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("orgd: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
