//! `crypten-dealer`: the trusted third party as a process of its own, for a machine that deals
//! preprocessing and does nothing else. It links only the dealer, the communicator and the
//! ring. Configured like a party by the environment (`RANK` = `WORLD_SIZE`, `MASTER_ADDR`,
//! `MASTER_PORT`, `CRYPTEN_RECV_TIMEOUT`); `crypten ttp` does the same inside the CLI.

use std::process::ExitCode;

fn main() -> ExitCode {
    match crypten_dealer::run_from_env() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
