//! AWS adapters for repowatch's ports: the state store and catalog on one
//! DynamoDB table, the build queue on SQS, secrets from SSM Parameter Store.
//! Used by the Lambda crates in functions/ and by the CLI's optional `aws`
//! feature (`repowatch sync`); the CLI's default build never links it.

pub mod config;
pub mod dynamo;
pub mod emf;
pub mod lambda;
#[cfg(feature = "test-util")]
pub mod moto;
pub mod sdk;
pub mod sqs;
pub mod ssm;

pub use config::LambdaConfig;
pub use dynamo::DynamoTable;
pub use sqs::SqsBuildQueue;
pub use ssm::read_parameters;
