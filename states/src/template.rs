//! Payload templates: `Parameters`, `ResultSelector`, `ItemSelector` (and `Credentials`).
//!
//! A field whose name ends in `.$` takes its value from a path or an intrinsic function;
//! every other field is copied as it is. Templates are compiled once, with the definition:
//! a subtree without any `.$` field stays one literal value.

use serde_json::{Map, Value};

use crate::diagnostic::{DiagnosticCode, Diagnostics, child};
use crate::entropy::Entropy;
use crate::error::EvalError;
use crate::intrinsics::{Intrinsic, is_intrinsic};
use crate::json::{Entries, Json};
use crate::path::{Path, PathMiss, PayloadScope, Root, Scope};

/// A compiled payload template.
#[derive(Debug, Clone)]
pub enum Template {
    /// A value with no dynamic field inside: copied as is (or shared, in its persistent form).
    Literal(Value, Json),
    /// An object with at least one dynamic field somewhere below it.
    Object(Vec<(String, Field)>),
    /// An array with at least one dynamic field somewhere below it.
    Array(Vec<Template>),
}

/// One field of an object template.
#[derive(Debug, Clone)]
pub enum Field {
    /// A plain field (its value may still contain dynamic fields below).
    Plain(Template),
    /// `"name.$": "$.path"`: the key is stored without `.$`.
    Path(Path),
    /// `"name.$": "States.Format(…)"`.
    Intrinsic(Intrinsic),
}

impl Template {
    /// Compiles a template. Problems are reported at `location` and its children.
    pub fn compile(value: &Value, location: &str, diags: &mut Diagnostics) -> Template {
        match value {
            Value::Object(map) if has_dynamic(value) => {
                let mut fields = Vec::with_capacity(map.len());
                for (key, item) in map {
                    let here = child(location, key);
                    if let Some(name) = key.strip_suffix(".$") {
                        let Some(text) = item.as_str() else {
                            diags.error(
                                DiagnosticCode::SchemaValidationFailed,
                                here,
                                format!("the value of the field '{key}' must be a JSONPath or an intrinsic function"),
                            );
                            continue;
                        };
                        if let Some(field) = compile_dynamic(text, &here, diags) {
                            fields.push((name.to_owned(), field));
                        }
                    } else {
                        fields.push((key.clone(), Field::Plain(Template::compile(item, &here, diags))));
                    }
                }
                Template::Object(fields)
            }
            Value::Array(items) if has_dynamic(value) => Template::Array(
                items.iter().enumerate().map(|(i, item)| Template::compile(item, &child(location, i), diags)).collect(),
            ),
            other => Template::Literal(other.clone(), Json::from(other)),
        }
    }

    /// True when any path in the template reads the context object (`$$`).
    pub fn uses_context(&self) -> bool {
        match self {
            Template::Literal(..) => false,
            Template::Array(items) => items.iter().any(Template::uses_context),
            Template::Object(fields) => fields.iter().any(|(_, f)| f.uses_context()),
        }
    }

    /// Builds the payload (see [`Field::eval`] for the errors).
    pub fn render(&self, scope: &Scope<'_>, entropy: &dyn Entropy) -> Result<Value, EvalError> {
        match self {
            Template::Literal(value, _) => Ok(value.clone()),
            Template::Array(items) => {
                items.iter().map(|t| t.render(scope, entropy)).collect::<Result<_, _>>().map(Value::Array)
            }
            Template::Object(fields) => {
                let mut out = Map::with_capacity(fields.len());
                for (key, field) in fields {
                    let value = match field {
                        Field::Plain(template) => template.render(scope, entropy)?,
                        dynamic => dynamic.eval(scope, entropy, &format!("{key}.$"))?,
                    };
                    out.insert(key.clone(), value);
                }
                Ok(Value::Object(out))
            }
        }
    }
}

impl Template {
    /// [`Template::render`] over a payload, building the persistent form: literals and
    /// what definite paths from `$` select are shared, not copied.
    pub fn render_in(&self, scope: &PayloadScope<'_>, entropy: &dyn Entropy) -> Result<Json, EvalError> {
        match self {
            Template::Literal(_, json) => Ok(json.clone()),
            Template::Array(items) => {
                items.iter().map(|t| t.render_in(scope, entropy)).collect::<Result<_, _>>().map(Json::array)
            }
            Template::Object(fields) => {
                let mut out = Entries::with_capacity(fields.len());
                for (key, field) in fields {
                    let value = match field {
                        Field::Plain(template) => template.render_in(scope, entropy)?,
                        dynamic => dynamic.eval_in(scope, entropy, &format!("{key}.$"))?,
                    };
                    out.insert(key.clone(), value);
                }
                Ok(Json::object(out))
            }
        }
    }
}

impl Field {
    /// Evaluates a path or intrinsic field. `field_name` is how AWS names the field in a
    /// States.Runtime cause (`value.$`, `CausePath`, …).
    ///
    /// A path that selects nothing fails with AWS's wording:
    /// "The JSONPath '$.x' specified for the field 'x.$' could not be found in the input '…'".
    pub fn eval(&self, scope: &Scope<'_>, entropy: &dyn Entropy, field_name: &str) -> Result<Value, EvalError> {
        match self {
            Field::Plain(template) => template.render(scope, entropy),
            Field::Intrinsic(intrinsic) => intrinsic.eval(scope, entropy),
            Field::Path(path) => match path.select(scope) {
                Ok(value) => Ok(value.into_owned()),
                Err(miss) => Err(path_miss(path, field_name, &miss, scope.input)),
            },
        }
    }

    /// [`Field::eval`] over a payload: a path selects in its persistent form (see
    /// [`Path::select_in`]), and so do an intrinsic's path arguments.
    pub fn eval_in(
        &self,
        scope: &PayloadScope<'_>,
        entropy: &dyn Entropy,
        field_name: &str,
    ) -> Result<Json, EvalError> {
        match self {
            Field::Plain(template) => template.render_in(scope, entropy),
            Field::Intrinsic(intrinsic) => intrinsic.eval(scope, entropy).map(Json::from),
            Field::Path(path) => path.select_in(scope).map_err(|miss| path_miss(path, field_name, &miss, scope.input)),
        }
    }

    /// True when the field reads the context object.
    pub fn uses_context(&self) -> bool {
        match self {
            Field::Plain(t) => t.uses_context(),
            Field::Path(p) => *p.root() == Root::Context,
            Field::Intrinsic(i) => i.uses_context(),
        }
    }
}

/// A `.$` field's path that selected nothing, in AWS's words; `input` (a value, or a
/// payload in its own form) is quoted compact.
fn path_miss(path: &Path, field_name: &str, miss: &PathMiss, input: &impl serde::Serialize) -> EvalError {
    if miss.unknown_variable {
        return EvalError::Runtime(format!(
            "The JSONPath '{path}' specified for the field '{field_name}' could not be found: the variable is not defined"
        ));
    }
    EvalError::Runtime(format!(
        "The JSONPath '{path}' specified for the field '{field_name}' could not be found in the input '{}'",
        serde_json::to_string(input).unwrap_or_default()
    ))
}

/// Compiles the value of a `.$` field (or of `ErrorPath`/`CausePath`): an intrinsic call or a path.
pub fn compile_dynamic(text: &str, location: &str, diags: &mut Diagnostics) -> Option<Field> {
    if is_intrinsic(text) {
        match Intrinsic::parse(text) {
            Ok(intrinsic) => Some(Field::Intrinsic(intrinsic)),
            Err(message) => {
                diags.error(DiagnosticCode::InvalidIntrinsicFunction, location, message);
                None
            }
        }
    } else {
        match Path::parse(text) {
            Ok(path) => Some(Field::Path(path)),
            Err(e) => {
                diags.error(DiagnosticCode::InvalidJsonPath, location, format!("{e}"));
                None
            }
        }
    }
}

fn has_dynamic(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(k, v)| k.ends_with(".$") || has_dynamic(v)),
        Value::Array(items) => items.iter().any(has_dynamic),
        _ => false,
    }
}

/// Compact JSON text of a value, as AWS quotes inputs in causes.
pub fn compact(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}
