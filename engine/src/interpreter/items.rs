//! A distributed Map's items when it has an ItemReader: the S3 reads (through the task
//! adapter of `arn:aws:states:::s3:getObject` / `listObjectsV2`, so they go to the local S3
//! or to AWS like any S3 task), then what `sfnlite_states::eval::items` makes of them;
//! and its ItemBatcher's batches. A read that fails is `States.ItemReaderFailed`.

use sfnlite_states::history::Payload;
use std::sync::Arc;

use serde_json::{Value, json};
use sfnlite_states::definition::{
    AnyTemplate, CsvHeaders, InputType, ItemBatcher, ItemReader, MapState, ReaderResource,
};
use sfnlite_states::eval::context::MapItem;
use sfnlite_states::eval::fields::count;
use sfnlite_states::eval::items::{
    ItemList, batches, csv_items, inventory_files, json_items, jsonl_items, listing_items, reader_failed,
};
use sfnlite_states::eval::map::{Tolerance, concurrency_limit, has_item_selector, item_input, items};
use sfnlite_states::eval::{Env, states_object};
use sfnlite_states::resource::Resource;
use sfnlite_states::{EvalError, StatesError};

use super::Run;
use super::map_run::Plan;
use super::recovery::Entry;
use crate::adapter::TaskRequest;

/// AWS's limit on `MaxItems`.
const MAX_ITEMS: u64 = 100_000_000;

/// A template in the state's query language, evaluated against `input`.
pub(super) fn render(template: &AnyTemplate, input: &Value, env: &Env<'_>, field: &str) -> Result<Value, EvalError> {
    match template {
        AnyTemplate::JsonPath(template) => template.render(&env.scope(input), env.entropy),
        AnyTemplate::Jsonata(template) => {
            env.jsonata_render(template, &states_object(input.clone(), env.context, None, None), field)
        }
    }
}

impl Run<'_> {
    /// What a distributed Map's attempt iterates over: the ItemReader's items (or the
    /// state input's), each through the ItemSelector, then the ItemBatcher's batches. Items
    /// are kept as JSON text ([`ItemList`]) and parsed only to be selected.
    pub(super) async fn map_run_plan(
        &self,
        map: &MapState,
        entry: &Entry<'_>,
        env: &Env<'_>,
    ) -> Result<Plan, EvalError> {
        let items = match &map.item_reader {
            Some(reader) => self.read_items(&entry.state.name, reader, &entry.effective, env).await?,
            None => items(entry.state, map, &entry.effective, env)?.iter().map(|item| &**item).collect(),
        };
        let item_count = items.len();
        let digest = items.digest();
        let selected = if has_item_selector(entry.state, map) {
            let execution = self.execution_context();
            let mut selected = ItemList::new();
            for index in 0..items.len() {
                let value = items.get(index).map_err(EvalError::Raised)?;
                let item = MapItem { index, value: &value };
                let input = item_input(entry.state, map, &execution, &entry.effective, item, env)?;
                selected.push(input.as_deref().unwrap_or(&value));
            }
            selected
        } else {
            items
        };
        let wrapped = has_item_selector(entry.state, map) || map.item_batcher.is_some();
        let (inputs, weights) = match &map.item_batcher {
            Some(batcher) => batch(batcher, &selected, &entry.effective, env)?,
            None => {
                let ones = vec![1; selected.len()];
                (selected, ones)
            }
        };
        if wrapped {
            // Each child's input is read back from its text when it starts.
            inputs.readable().map_err(EvalError::Raised)?;
        }
        let limit = concurrency_limit(map, &entry.effective, env, inputs.len())?;
        let tolerance = Tolerance::of(map, &entry.effective, env)?;
        Ok(Plan { inputs, weights, items: item_count, digest, limit, tolerance })
    }

    /// The items an ItemReader reads, at most `MaxItems`.
    pub(super) async fn read_items(
        &self,
        state: &str,
        reader: &ItemReader,
        effective: &Value,
        env: &Env<'_>,
    ) -> Result<ItemList, EvalError> {
        let parameters = match &reader.parameters {
            Some(template) => render(template, effective, env, "Arguments")?,
            None => json!({}),
        };
        let max = match &reader.max_items {
            None => None,
            Some(field) => match count(field, &env.scope(effective), env, "MaxItems", Value::as_i64)? {
                n if n < 0 => return Err(EvalError::Raised(reader_failed("field MaxItems must be positive"))),
                n => Some(n as u64),
            },
        };
        if max.is_some_and(|m| m > MAX_ITEMS) {
            return Err(EvalError::Raised(reader_failed(format!("field MaxItems must be at most {MAX_ITEMS}"))));
        }
        let mut items = match (reader.resource, reader.input_type) {
            (ReaderResource::ListObjectsV2, _) => self.list_items(state, &parameters, max).await?,
            (ReaderResource::GetObject, Some(InputType::Manifest)) => {
                if reader.manifest_type.as_deref().is_some_and(|t| t != "S3_INVENTORY") {
                    return Err(EvalError::Raised(reader_failed(format!(
                        "ManifestType {} is not read by sfnlite (S3_INVENTORY is)",
                        reader.manifest_type.as_deref().unwrap_or_default()
                    ))));
                }
                let manifest = self.object_text(state, &parameters).await?;
                let (bucket, keys, schema) = inventory_files(&manifest).map_err(EvalError::Raised)?;
                let mut items = ItemList::new();
                let headers = CsvHeaders::Given(schema);
                for key in keys {
                    let text = self.object_text(state, &json!({"Bucket": bucket, "Key": key})).await?;
                    csv_items(&text, ',', &headers, &mut items, max).map_err(EvalError::Raised)?;
                    if items.full(max) {
                        break;
                    }
                }
                items
            }
            (ReaderResource::GetObject, input_type) => {
                let text = self.object_text(state, &parameters).await?;
                match input_type {
                    Some(InputType::Csv) => {
                        let mut items = ItemList::new();
                        csv_items(&text, reader.csv_delimiter, &reader.csv_headers, &mut items, max).map(|()| items)
                    }
                    Some(InputType::Json) => json_items(&text, reader.items_pointer.as_deref()),
                    Some(InputType::Jsonl) => jsonl_items(&text, max),
                    Some(InputType::Parquet) => Err(reader_failed("InputType PARQUET is not read by sfnlite")),
                    _ => Err(reader_failed("an ItemReader that reads an object needs ReaderConfig.InputType")),
                }
                .map_err(EvalError::Raised)?
            }
        };
        items.limit(max);
        Ok(items)
    }

    /// One S3 call of the reader, through its task adapter.
    async fn reader_call(&self, state: &str, resource: &str, parameters: &Value) -> Result<Value, EvalError> {
        self.s3_call(state, resource, parameters.clone()).await.map_err(|e| {
            let cause = match &e.cause {
                Some(cause) => format!("{}: {cause}", e.error),
                None => e.error.to_string(),
            };
            EvalError::Raised(reader_failed(format!("reading {}: {cause}", compact(parameters))))
        })
    }

    /// A distributed Map's own S3 call (an ItemReader's read, a ResultWriter's write)
    /// through the task adapter of `resource`, outside any Task's events.
    pub(super) async fn s3_call(&self, state: &str, resource: &str, parameters: Value) -> Result<Value, StatesError> {
        let resource = Arc::new(Resource::parse(resource).expect("a valid resource"));
        let Some(adapter) = self.registry.find(state, &resource) else {
            let message = format!("no adapter runs {}", resource.arn());
            return Err(StatesError::new(sfnlite_states::ErrorName::Runtime, message));
        };
        let request = TaskRequest {
            state_name: state.to_owned(),
            resource,
            parameters: Payload::new(parameters),
            credentials: None,
            attempt: 0,
            deadline_millis: None,
            execution_arn: self.info.arn.clone(),
            event_id: 0,
            started_millis: self.clock.now_millis(),
        };
        adapter.invoke(request).await
    }

    /// An object's contents as text (decompressed by the adapter when gzipped).
    async fn object_text(&self, state: &str, parameters: &Value) -> Result<String, EvalError> {
        let mut object = self.reader_call(state, "arn:aws:states:::s3:getObject", parameters).await?;
        match object.get_mut("Body").map(Value::take) {
            Some(Value::String(text)) => Ok(text),
            _ => Ok(String::new()),
        }
    }

    /// The objects under a prefix, page by page, until `max`.
    async fn list_items(&self, state: &str, parameters: &Value, max: Option<u64>) -> Result<ItemList, EvalError> {
        let mut items = ItemList::new();
        let mut request = parameters.clone();
        loop {
            let page = self.reader_call(state, "arn:aws:states:::s3:listObjectsV2", &request).await?;
            listing_items(page["Contents"].as_array().map(Vec::as_slice).unwrap_or_default(), &mut items);
            let full = items.full(max);
            match page["NextContinuationToken"].as_str() {
                Some(token) if !full => request["ContinuationToken"] = json!(token),
                _ => return Ok(items),
            }
        }
    }
}

/// The ItemBatcher's batches of (already selected) items, and the items in each.
pub(super) fn batch(
    batcher: &ItemBatcher,
    items: &ItemList,
    effective: &Value,
    env: &Env<'_>,
) -> Result<(ItemList, Vec<usize>), EvalError> {
    let scope = env.scope(effective);
    let max_items =
        batcher.max_items.as_ref().map(|c| count(c, &scope, env, "MaxItemsPerBatch", Value::as_u64)).transpose()?;
    let max_bytes = batcher
        .max_bytes
        .as_ref()
        .map(|c| count(c, &scope, env, "MaxInputBytesPerBatch", Value::as_u64))
        .transpose()?;
    let batch_input = batcher.batch_input.as_ref().map(|t| render(t, effective, env, "BatchInput")).transpose()?;
    batches(items, max_items, max_bytes, batch_input.as_ref()).map_err(EvalError::Raised)
}

fn compact(value: &Value) -> String {
    sfnlite_states::template::compact(value)
}
