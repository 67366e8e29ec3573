//! repowatch.toml: any text is either a configuration or a list of problems
//! that each name a line; never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match repowatch::config::parse(text, Path::new("repowatch.toml"), Path::new("/nonexistent")) {
        Ok(config) => {
            let _ = format!("{config:?}");
        }
        Err(e) => {
            let message = e.to_string();
            assert!(!message.is_empty(), "an error with no words");
        }
    }
});
