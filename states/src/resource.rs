//! A Task state's `Resource`, parsed once when the definition is read: a service
//! integration (service, action, integration pattern), a Lambda function ARN, an activity
//! ARN, or another ARN that only a mock can answer.

use std::fmt;

use crate::history::TaskResource;

/// What a Task state runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// `arn:<partition>:states:::<service>:<action>[.sync|.sync:2|.waitForTaskToken]`.
    Integration(Integration),
    /// `arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>]`: the legacy
    /// form, whose history uses `LambdaFunction*` events and whose result is the payload.
    LambdaFunction(LambdaFunction),
    /// `arn:<partition>:states:<region>:<account>:activity:<name>`.
    Activity(Activity),
    /// Any other ARN: kept verbatim; only a mock runs it.
    Other(String),
}

/// A service integration: `arn:aws:states:::athena:startQueryExecution.sync` is service
/// `athena`, action `startQueryExecution`, pattern [`IntegrationPattern::Sync`];
/// `arn:aws:states:::aws-sdk:s3:getObject` is the SDK integration of service `s3`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integration {
    /// The whole ARN.
    pub arn: String,
    /// True for the AWS SDK integrations (`aws-sdk:<service>`).
    pub sdk: bool,
    /// `athena`, `lambda`, `states`, `http`, `s3`…
    pub service: String,
    /// The API action, without the pattern suffix: `startQueryExecution`, `invoke`…
    pub action: String,
    /// How Step Functions waits for the call.
    pub pattern: IntegrationPattern,
}

/// How a service integration waits (the ARN's suffix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegrationPattern {
    /// No suffix: the API response is the result.
    RequestResponse,
    /// `.sync`: run a job and wait for it.
    Sync,
    /// `.sync:2`: as `.sync`, with the result as parsed JSON (Step Functions' own integration).
    Sync2,
    /// `.waitForTaskToken`: wait until the token comes back (SendTaskSuccess/Failure).
    WaitForTaskToken,
}

impl IntegrationPattern {
    /// The ARN suffix, `""` for request-response.
    pub fn suffix(self) -> &'static str {
        match self {
            IntegrationPattern::RequestResponse => "",
            IntegrationPattern::Sync => ".sync",
            IntegrationPattern::Sync2 => ".sync:2",
            IntegrationPattern::WaitForTaskToken => ".waitForTaskToken",
        }
    }
}

/// A Lambda function named by its ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaFunction {
    /// The whole ARN.
    pub arn: String,
    /// The region field.
    pub region: String,
    /// The function name.
    pub name: String,
    /// A version or alias, when the ARN names one.
    pub qualifier: Option<String>,
}

/// An activity named by its ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    /// The whole ARN.
    pub arn: String,
    /// The region field.
    pub region: String,
    /// The activity name.
    pub name: String,
}

/// Why a `Resource` is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidResource(pub String);

impl fmt::Display for InvalidResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the resource '{}' is not a valid ARN", self.0)
    }
}

impl Resource {
    /// Parses a `Resource` value. Anything that starts with `arn:` is accepted (an ARN
    /// sfnlite does not know is [`Resource::Other`]); anything else is refused.
    pub fn parse(text: &str) -> Result<Resource, InvalidResource> {
        let fields: Vec<&str> = text.splitn(6, ':').collect();
        if fields.first() != Some(&"arn") || fields.len() < 6 {
            return if text.starts_with("arn:") {
                Ok(Resource::Other(text.to_owned()))
            } else {
                Err(InvalidResource(text.to_owned()))
            };
        }
        let (service, region, rest) = (fields[2], fields[3], fields[5]);
        let parsed = match service {
            "states" if region.is_empty() && fields[4].is_empty() => {
                Integration::parse(text, rest).map(Resource::Integration)
            }
            "states" => rest.strip_prefix("activity:").filter(|n| !n.is_empty()).map(|name| {
                Resource::Activity(Activity { arn: text.to_owned(), region: region.to_owned(), name: name.to_owned() })
            }),
            "lambda" => rest.strip_prefix("function:").filter(|n| !n.is_empty()).map(|name| {
                let (name, qualifier) = match name.split_once(':') {
                    Some((name, qualifier)) => (name, Some(qualifier.to_owned())),
                    None => (name, None),
                };
                Resource::LambdaFunction(LambdaFunction {
                    arn: text.to_owned(),
                    region: region.to_owned(),
                    name: name.to_owned(),
                    qualifier,
                })
            }),
            _ => None,
        };
        Ok(parsed.unwrap_or_else(|| Resource::Other(text.to_owned())))
    }

    /// The ARN as written.
    pub fn arn(&self) -> &str {
        match self {
            Resource::Integration(i) => &i.arn,
            Resource::LambdaFunction(f) => &f.arn,
            Resource::Activity(a) => &a.arn,
            Resource::Other(arn) => arn,
        }
    }

    /// The region the ARN names, if any (integrations name none).
    pub fn region(&self) -> Option<&str> {
        match self {
            Resource::LambdaFunction(LambdaFunction { region, .. }) | Resource::Activity(Activity { region, .. }) => {
                Some(region.as_str()).filter(|r| !r.is_empty())
            }
            Resource::Other(arn) => arn.split(':').nth(3).filter(|r| !r.is_empty()),
            Resource::Integration(_) => None,
        }
    }

    /// The integration, when the resource is one.
    pub fn integration(&self) -> Option<&Integration> {
        match self {
            Resource::Integration(i) => Some(i),
            _ => None,
        }
    }

    /// How task events name the resource (`resourceType`, `resource`).
    pub fn history_form(&self) -> TaskResource {
        match self {
            Resource::Integration(i) => TaskResource {
                resource_type: if i.sdk { format!("aws-sdk:{}", i.service) } else { i.service.clone() },
                resource: format!("{}{}", i.action, i.pattern.suffix()),
            },
            other => TaskResource { resource_type: "activity".to_owned(), resource: other.arn().to_owned() },
        }
    }
}

impl Integration {
    /// `rest` is what follows `arn:<partition>:states:::`.
    fn parse(arn: &str, rest: &str) -> Option<Integration> {
        let (sdk, rest) = match rest.strip_prefix("aws-sdk:") {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        let (service, call) = rest.split_once(':')?;
        let (action, pattern) = if let Some(action) = call.strip_suffix(".sync:2") {
            (action, IntegrationPattern::Sync2)
        } else if let Some(action) = call.strip_suffix(".sync") {
            (action, IntegrationPattern::Sync)
        } else if let Some(action) = call.strip_suffix(".waitForTaskToken") {
            (action, IntegrationPattern::WaitForTaskToken)
        } else {
            (call, IntegrationPattern::RequestResponse)
        };
        if service.is_empty() || action.is_empty() || action.contains(':') {
            return None;
        }
        Some(Integration { arn: arn.to_owned(), sdk, service: service.to_owned(), action: action.to_owned(), pattern })
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.arn())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn integration(text: &str) -> Integration {
        match Resource::parse(text).unwrap() {
            Resource::Integration(i) => i,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn integrations_have_service_action_and_pattern() {
        let i = integration("arn:aws:states:::athena:startQueryExecution.sync");
        assert_eq!((i.sdk, i.service.as_str(), i.action.as_str()), (false, "athena", "startQueryExecution"));
        assert_eq!(i.pattern, IntegrationPattern::Sync);
        let i = integration("arn:aws:states:::aws-sdk:s3:getObject");
        assert_eq!((i.sdk, i.service.as_str(), i.action.as_str()), (true, "s3", "getObject"));
        assert_eq!(i.pattern, IntegrationPattern::RequestResponse);
        assert_eq!(integration("arn:aws:states:::states:startExecution.sync:2").pattern, IntegrationPattern::Sync2);
        let i = integration("arn:aws-cn:states:::lambda:invoke.waitForTaskToken");
        assert_eq!((i.service.as_str(), i.action.as_str()), ("lambda", "invoke"));
        assert_eq!(i.pattern, IntegrationPattern::WaitForTaskToken);
    }

    #[test]
    fn functions_and_activities_keep_their_names() {
        let Resource::LambdaFunction(f) = Resource::parse("arn:aws:lambda:eu-west-1:1:function:process:live").unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (f.region.as_str(), f.name.as_str(), f.qualifier.as_deref()),
            ("eu-west-1", "process", Some("live"))
        );
        let Resource::Activity(a) = Resource::parse("arn:aws:states:us-east-1:1:activity:approve").unwrap() else {
            panic!()
        };
        assert_eq!(a.name, "approve");
    }

    #[test]
    fn history_form_matches_aws() {
        let form = Resource::parse("arn:aws:states:::aws-sdk:s3:getObject.waitForTaskToken").unwrap().history_form();
        assert_eq!((form.resource_type.as_str(), form.resource.as_str()), ("aws-sdk:s3", "getObject.waitForTaskToken"));
        let arn = "arn:aws:states:us-east-1:1:activity:approve";
        let form = Resource::parse(arn).unwrap().history_form();
        assert_eq!((form.resource_type.as_str(), form.resource.as_str()), ("activity", arn));
    }

    #[test]
    fn anything_else_that_is_an_arn_is_kept_and_the_rest_refused() {
        assert_eq!(Resource::parse("arn:aws:sqs:x").unwrap(), Resource::Other("arn:aws:sqs:x".into()));
        assert_eq!(Resource::parse("arn:aws:states:::nothing").unwrap().arn(), "arn:aws:states:::nothing");
        assert_eq!(
            Resource::parse("lambda:invoke").unwrap_err().to_string(),
            "the resource 'lambda:invoke' is not a valid ARN"
        );
        assert_eq!(Resource::parse("arn:aws:lambda:us-west-2:1:function:f").unwrap().region(), Some("us-west-2"));
    }
}
