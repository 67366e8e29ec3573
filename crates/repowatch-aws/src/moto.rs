//! A moto server on 127.0.0.1 for tests (feature `test-util`): the AWS
//! protocol peer the adapters and the simulated cloud are tested against.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};

/// A running `moto_server`; stopped on drop.
pub struct Moto {
    child: Child,
    pub url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// A fresh server for a test: from `$REPOWATCH_VENV`, else
    /// `~/.cache/repowatch/venv` (where scripts/test.sh installs moto). `None`
    /// when moto is not installed, and the caller skips (saying so) — unless
    /// `REPOWATCH_REQUIRE_MOTO` is set (CI), where a missing or broken moto
    /// fails the test.
    #[allow(clippy::panic, reason = "a test helper: failing the test is its way to report")]
    pub fn for_test() -> Option<Moto> {
        let venv = std::env::var_os("REPOWATCH_VENV")
            .map(std::path::PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cache/repowatch/venv")))
            .unwrap_or_default();
        let required = std::env::var_os("REPOWATCH_REQUIRE_MOTO").is_some();
        match Self::start(&venv) {
            Some(Ok(moto)) => Some(moto),
            Some(Err(e)) => panic!("moto did not start: {e}"),
            None if required => panic!("moto is not installed in {} (scripts/test.sh installs it)", venv.display()),
            None => {
                eprintln!("skipped: moto is not installed in {} (scripts/test.sh installs it)", venv.display());
                None
            }
        }
    }

    /// Starts `<venv>/bin/moto_server` on a free port; `None` when it is not installed.
    pub fn start(venv: &Path) -> Option<Result<Moto, String>> {
        let bin = venv.join("bin/moto_server");
        if !bin.exists() {
            return None;
        }
        Some(Self::spawn(&bin))
    }

    fn spawn(bin: &Path) -> Result<Moto, String> {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
        let child = Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let moto = Moto { child, url: format!("http://127.0.0.1:{port}") };
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if start.elapsed() > Duration::from_secs(30) {
                return Err("moto_server did not start within 30 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(moto)
    }

    /// An SDK configuration pointed at this server, with static test credentials.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        crate::sdk::config_loader()
            .endpoint_url(&self.url)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("testing", "testing", None, None, "moto"))
            .load()
            .await
    }

    /// Creates the table as template.yaml declares it (pk/sk strings, on demand).
    pub async fn create_table(&self, sdk: &aws_config::SdkConfig, name: &str) -> Result<(), String> {
        let client = aws_sdk_dynamodb::Client::new(sdk);
        let attr =
            |n: &str| AttributeDefinition::builder().attribute_name(n).attribute_type(ScalarAttributeType::S).build();
        let key = |n: &str, k| KeySchemaElement::builder().attribute_name(n).key_type(k).build();
        client
            .create_table()
            .table_name(name)
            .attribute_definitions(attr("pk").map_err(|e| e.to_string())?)
            .attribute_definitions(attr("sk").map_err(|e| e.to_string())?)
            .key_schema(key("pk", KeyType::Hash).map_err(|e| e.to_string())?)
            .key_schema(key("sk", KeyType::Range).map_err(|e| e.to_string())?)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| crate::sdk::describe(&e))
    }
}
