//! Lambda on AWS (`backend = "aws"`): the function is invoked through the AWS SDK for Rust
//! (Lambda's Invoke API), and its answer is taken as Step Functions takes it.

use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::operation::RequestId;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{InvocationType, LogType};
use tokio::sync::OnceCell;

use crate::aws::{AwsSettings, sdk_config};

/// An Invoke request, as the task gives it.
#[derive(Debug, Clone)]
pub struct AwsCall {
    /// `FunctionName` as written (a name, a partial or full ARN, with a qualifier).
    pub function_name: String,
    /// `Qualifier`, when given.
    pub qualifier: Option<String>,
    /// The event, as JSON text.
    pub payload: String,
    /// `InvocationType: Event`.
    pub event: bool,
    /// `LogType: Tail`.
    pub tail: bool,
    /// `ClientContext` (base64), when given.
    pub client_context: Option<String>,
}

/// Invoke's answer.
#[derive(Debug, Clone)]
pub struct AwsAnswer {
    /// The HTTP status Lambda answered (200, or 202 for `Event`).
    pub status: i32,
    /// `X-Amz-Executed-Version`.
    pub executed_version: Option<String>,
    /// `X-Amz-Function-Error` (`Unhandled`, `Handled`) when the function failed.
    pub function_error: Option<String>,
    /// The response payload (the function's result, or its error object).
    pub payload: Vec<u8>,
    /// `LogResult` (base64), with `LogType: Tail`.
    pub log_result: Option<String>,
    /// The request id.
    pub request_id: String,
}

/// Why Invoke failed: Lambda's error code and message (`ResourceNotFoundException`, …), or
/// a client-side failure (no code).
#[derive(Debug, Clone)]
pub struct AwsRefusal {
    /// The error code, when Lambda gave one.
    pub code: Option<String>,
    /// The message.
    pub message: String,
    /// The HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// The request id, when there was an answer.
    pub request_id: Option<String>,
}

/// Lambda on AWS.
pub struct AwsLambda {
    settings: AwsSettings,
    client: OnceCell<aws_sdk_lambda::Client>,
}

impl AwsLambda {
    /// Lambda reached with `settings` (the client is made on first use).
    pub fn new(settings: AwsSettings) -> AwsLambda {
        AwsLambda { settings, client: OnceCell::new() }
    }

    async fn client(&self) -> &aws_sdk_lambda::Client {
        self.client.get_or_init(|| async { aws_sdk_lambda::Client::new(&sdk_config(&self.settings).await) }).await
    }

    /// Invokes the function.
    pub async fn invoke(&self, call: AwsCall) -> Result<AwsAnswer, AwsRefusal> {
        let request = self
            .client()
            .await
            .invoke()
            .function_name(call.function_name)
            .set_qualifier(call.qualifier)
            .payload(Blob::new(call.payload.into_bytes()))
            .invocation_type(if call.event { InvocationType::Event } else { InvocationType::RequestResponse })
            .log_type(if call.tail { LogType::Tail } else { LogType::None })
            .set_client_context(call.client_context);
        match request.send().await {
            Ok(out) => Ok(AwsAnswer {
                request_id: out.request_id().unwrap_or_default().to_owned(),
                status: out.status_code(),
                executed_version: out.executed_version().map(str::to_owned),
                function_error: out.function_error().map(str::to_owned),
                payload: out.payload().map(|b| b.as_ref().to_vec()).unwrap_or_default(),
                log_result: out.log_result().map(str::to_owned),
            }),
            Err(error) => {
                let status = error.raw_response().map(|r| r.status().as_u16());
                let request_id = error.raw_response().and_then(|r| {
                    r.headers()
                        .get("x-amzn-RequestId")
                        .or_else(|| r.headers().get("x-amzn-requestid"))
                        .map(str::to_owned)
                });
                let code = error.code().map(str::to_owned);
                let message = match error.message() {
                    Some(message) => message.to_owned(),
                    None => aws_smithy_types::error::display::DisplayErrorContext(&error).to_string(),
                };
                Err(AwsRefusal { code, message, status, request_id })
            }
        }
    }
}
