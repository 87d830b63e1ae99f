#![forbid(unsafe_code)]

#[tokio::main]
async fn main() -> std::process::ExitCode {
    sotto_server::telemetry::init();
    match sotto_server::cli::main(std::env::args_os(), &mut std::io::stdout()).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sotto-server: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
