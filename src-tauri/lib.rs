//! The desktop app: thin glue between the web UI and the Tauri-free crates.

pub fn run() {
    tauri::Builder::default()
        .run(tauri::generate_context!())
        .expect("error while running Genius Account");
}
