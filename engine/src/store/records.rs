//! Writing the text of stored records as chunks, with the large JSON nodes that payloads
//! share written once.
//!
//! A record (an event batch, an execution record) is JSON text; a large one is stored as a
//! list of parts ([`parts`]): its content-defined chunks ([`super::chunks`]), stored once
//! each and named by hash, and the short pieces of text (at most [`TEXT_PART_MAX`] bytes,
//! not part of a long string) kept in the list itself. Its text is never built whole:
//! [`RecordWriter`] writes it piece by piece and cuts what it has written as it goes. A
//! payload's array or object of at least [`NODE_MIN`] bytes of text is written as parts of
//! its own (cut where it starts and ends), remembered by the node's identity
//! ([`NodeMemo`]): the next record that carries the same node (the document leaving one
//! state and entering the next, a `data` subtree carried from state to state) lists those
//! parts again without serializing, cutting or hashing the node. A reader concatenates a
//! record's parts, wherever the cuts fall.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};

use serde_json::Value;
use sfnlite_states::history::{HistoryEvent, Payload};
use sfnlite_states::json::Json;

use super::StoreError;
use super::chunks::{self, ChunkHash};

/// A payload's array or object with at least this much JSON text is chunked on its own and
/// remembered (larger than a record kept inline, so a record that lists one is chunked).
pub(super) const NODE_MIN: usize = 32 * 1024;

/// A node chunked on its own is written plainly instead when it would have more text parts
/// than this: thin wrappers nested around shared nodes (a loop that wraps its input) would
/// otherwise make lists that grow by two text parts with each wrapper, each holding its
/// child's. Text written plainly has at most one text part per 2 KiB (a part shorter than a
/// chunk ends a run of text between long strings), so a node written plainly keeps under it.
fn text_parts_limit(text_len: usize) -> usize {
    text_len / 1024 + 32
}

/// The memo forgets the nodes that no longer exist once their parts take this many bytes in
/// all, and everything if they still do.
const MEMO_BYTES: usize = 32 << 20;

/// Text written is cut into parts once this much of it is pending (at an event's end).
const PENDING_MAX: usize = 256 * 1024;

/// A piece of text of at most this many bytes is kept in the record itself rather than as a
/// chunk (a chunk costs an index entry and a pack entry), unless it is part of a long string
/// (the same string is the same chunks wherever it appears: stored once). Content-defined
/// chunks are never shorter (`chunks::MIN_CHUNK`), so only the ends of runs of text and the
/// short texts between large nodes and long strings are kept so.
pub(super) const TEXT_PART_MAX: usize = 2 * 1024 - 1;

/// The tag of a part that names a chunk (32 bytes of hash follow).
const PART_CHUNK: u8 = 0;
/// The tag of a part that is text (a little-endian u32 length and the bytes follow).
const PART_TEXT: u8 = 1;

/// One part of a record's text, as [`parts`] reads it from a record's list.
#[derive(Debug, PartialEq)]
pub(super) enum Part<'a> {
    /// A stored chunk, by hash.
    Chunk(&'a ChunkHash),
    /// Text kept in the record.
    Text(&'a [u8]),
}

/// Reads a record's list of parts; an error says what is wrong with it.
pub(super) fn parts(mut list: &[u8]) -> Result<Vec<Part<'_>>, String> {
    let mut parts = Vec::new();
    while let Some((&tag, rest)) = list.split_first() {
        match tag {
            PART_CHUNK => {
                let (hash, rest) = rest.split_first_chunk::<32>().ok_or("a chunk part cut short")?;
                parts.push(Part::Chunk(hash));
                list = rest;
            }
            PART_TEXT => {
                let (len, rest) = rest.split_first_chunk::<4>().ok_or("a text part cut short")?;
                let len = u32::from_le_bytes(*len) as usize;
                if len > rest.len() {
                    return Err(format!("a text part of {len} bytes where {} remain", rest.len()));
                }
                let (text, rest) = rest.split_at(len);
                parts.push(Part::Text(text));
                list = rest;
            }
            other => return Err(format!("a part with the unknown tag {other}")),
        }
    }
    Ok(parts)
}

/// A node that no strong reference keeps alive any more matches nothing.
type WeakNode = Weak<dyn Any + Send + Sync>;

/// Nodes chunked on their own, with their parts.
pub(super) type MadeNodes = Vec<(Json, NodeParts)>;

/// The parts a node was stored as (a list that [`parts`] reads), and how many are text.
#[derive(Clone)]
pub(super) struct NodeParts {
    list: Arc<[u8]>,
    texts: usize,
}

/// A record's text, as stored: kept whole (small), or as the parts it was cut into (a
/// list that [`parts`] reads).
pub(super) enum Text {
    Whole(Vec<u8>),
    Parts(Vec<u8>),
}

/// What a record writer hands the store: a chunk, by hash and bytes. The store answers
/// whether it already holds it, and queues it to be stored when not.
pub(super) trait ChunkSink {
    fn add(&mut self, hash: ChunkHash, bytes: &[u8]) -> Result<(), StoreError>;
}

/// The parts of nodes already stored, by node identity: each entry holds a weak
/// reference to its node, so the node's address cannot be taken by another while the entry
/// exists, and a node that was dropped (or changed in place once unshared, which detaches
/// weak references) no longer matches. Holds no node's contents.
///
/// Valid only while the chunks it lists are stored: garbage collection clears it.
#[derive(Default)]
pub(super) struct NodeMemo {
    entries: HashMap<usize, (WeakNode, NodeParts)>,
    /// The bytes of the entries' parts, in all.
    bytes: usize,
}

/// A node's address, for arrays and objects.
fn node_key(json: &Json) -> Option<usize> {
    match json {
        Json::Array(node) => Some(Arc::as_ptr(node) as *const () as usize),
        Json::Object(node) => Some(Arc::as_ptr(node) as *const () as usize),
        _ => None,
    }
}

fn downgrade(json: &Json) -> Option<WeakNode> {
    match json {
        Json::Array(node) => Some(Arc::downgrade(node) as WeakNode),
        Json::Object(node) => Some(Arc::downgrade(node) as WeakNode),
        _ => None,
    }
}

impl NodeMemo {
    /// The parts that `json` was stored as, if this is the same node.
    pub(super) fn get(&self, json: &Json) -> Option<NodeParts> {
        let (weak, parts) = self.entries.get(&node_key(json)?)?;
        (weak.strong_count() > 0).then(|| parts.clone())
    }

    /// Remembers the nodes a record writer stored.
    pub(super) fn extend(&mut self, made: MadeNodes) {
        for (json, parts) in made {
            if let (Some(key), Some(weak)) = (node_key(&json), downgrade(&json)) {
                self.bytes += parts.list.len();
                if let Some((_, replaced)) = self.entries.insert(key, (weak, parts)) {
                    self.bytes -= replaced.list.len();
                }
            }
        }
        if self.bytes > MEMO_BYTES {
            self.entries.retain(|_, (weak, _)| weak.strong_count() > 0);
            self.bytes = self.entries.values().map(|(_, parts)| parts.list.len()).sum();
            if self.bytes > MEMO_BYTES {
                self.clear();
            }
        }
    }

    /// Forgets every node (their chunks may have been collected).
    pub(super) fn clear(&mut self) {
        self.entries.clear();
        self.bytes = 0;
    }

    /// How many nodes it remembers.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// Writes one record after another, each as text or chunks.
pub(super) struct RecordWriter<'a, S: ChunkSink> {
    sink: &'a mut S,
    /// The parts of nodes stored before (looked up by identity).
    known: &'a dyn Fn(&Json) -> Option<NodeParts>,
    /// Text written and not cut into parts yet.
    pending: Vec<u8>,
    /// The current record's parts so far (a list that [`parts`] reads), and how many of
    /// them are text.
    parts: Vec<u8>,
    texts: usize,
    /// The length of the current record's text so far.
    len: usize,
    /// Nodes chunked on their own by this writer, by address (they are alive: the events
    /// being written hold them), with their parts.
    made: HashMap<usize, (Json, NodeParts)>,
    /// Chunks handed to the sink by this writer.
    seen: HashSet<ChunkHash>,
}

impl<'a, S: ChunkSink> RecordWriter<'a, S> {
    pub(super) fn new(sink: &'a mut S, known: &'a dyn Fn(&Json) -> Option<NodeParts>) -> Self {
        RecordWriter {
            sink,
            known,
            pending: Vec::new(),
            parts: Vec::new(),
            texts: 0,
            len: 0,
            made: HashMap::new(),
            seen: HashSet::new(),
        }
    }

    /// The length of the current record's text so far.
    pub(super) fn len(&self) -> usize {
        self.len + self.pending.len()
    }

    /// Appends text to the current record.
    pub(super) fn raw(&mut self, text: &[u8]) {
        self.pending.extend_from_slice(text);
    }

    /// Appends an event's JSON (its store form) to the current record, its payloads' large
    /// nodes chunked on their own.
    pub(super) fn event(&mut self, event: &HistoryEvent) -> Result<(), StoreError> {
        self.write_event(event)?;
        if self.pending.len() >= PENDING_MAX {
            // Cut as it goes, so that a batch of many small events never holds (nor regrows)
            // a record's whole text.
            self.cut()?;
        }
        Ok(())
    }

    fn write_event(&mut self, event: &HistoryEvent) -> Result<(), StoreError> {
        // The event is written with each large payload replaced by a marker string, then the
        // text is spliced: up to the marker, the payload, after it. A marker found other than
        // once (a string in the event that happens to be the same) writes the event plainly.
        let mut bare = event.clone();
        let mut payloads: Vec<Json> = Vec::new();
        for payload in bare.details.payloads_mut() {
            if let Some(json) = payload.json_if_made().filter(|json| large(json)) {
                let json = json.clone();
                *payload = Payload::new(Value::String(marker(payloads.len())));
                payloads.push(json);
            }
        }
        if payloads.is_empty() {
            return serde_json::to_writer(&mut self.pending, event).map_err(store_error);
        }
        let text = serde_json::to_vec(&bare).map_err(store_error)?;
        let mut places = Vec::with_capacity(payloads.len());
        for (i, json) in payloads.iter().enumerate() {
            let quoted = serde_json::to_vec(&marker(i)).map_err(store_error)?;
            let mut found = memchr::memmem::find_iter(&text, &quoted);
            match (found.next(), found.next()) {
                (Some(at), None) => places.push((at, quoted.len(), json)),
                _ => return serde_json::to_writer(&mut self.pending, event).map_err(store_error),
            }
        }
        places.sort_by_key(|&(at, _, _)| at);
        let mut from = 0;
        for (at, len, json) in places {
            self.pending.extend_from_slice(&text[from..at]);
            self.json(json)?;
            from = at + len;
        }
        self.pending.extend_from_slice(&text[from..]);
        Ok(())
    }

    /// Writes `json`: a large array or object as chunks of its own (reused when known).
    fn json(&mut self, json: &Json) -> Result<(), StoreError> {
        if !large(json) {
            return serde_json::to_writer(&mut self.pending, json).map_err(store_error);
        }
        let Some(key) = node_key(json) else { unreachable!("a large value is an array or an object") };
        self.cut()?;
        if let Some(parts) = self.made.get(&key).map(|(_, parts)| parts.clone()).or_else(|| (self.known)(json)) {
            self.parts.extend_from_slice(&parts.list);
            self.texts += parts.texts;
            self.len += json.text_len();
            return Ok(());
        }
        let (start, first) = (self.parts.len(), self.texts);
        match json {
            Json::Array(node) => {
                self.pending.push(b'[');
                for (i, item) in node.items().iter().enumerate() {
                    if i > 0 {
                        self.pending.push(b',');
                    }
                    self.json(item)?;
                }
                self.pending.push(b']');
            }
            Json::Object(node) => {
                self.pending.push(b'{');
                for (i, (key, item)) in node.items().iter().enumerate() {
                    if i > 0 {
                        self.pending.push(b',');
                    }
                    serde_json::to_writer(&mut self.pending, key).map_err(store_error)?;
                    self.pending.push(b':');
                    self.json(item)?;
                }
                self.pending.push(b'}');
            }
            _ => {}
        }
        self.cut()?;
        if self.texts - first > text_parts_limit(json.text_len()) {
            // Written plainly instead, cut like any text, and not remembered.
            self.parts.truncate(start);
            self.texts = first;
            self.len -= json.text_len();
            return serde_json::to_writer(&mut self.pending, json).map_err(store_error);
        }
        let parts = NodeParts { list: self.parts[start..].into(), texts: self.texts - first };
        self.made.insert(key, (json.clone(), parts));
        Ok(())
    }

    /// Cuts the pending text into parts (chunks handed to the sink, short texts kept).
    fn cut(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        for (piece, in_long_string) in chunks::split_json(&self.pending) {
            if piece.len() <= TEXT_PART_MAX && !in_long_string {
                self.texts += 1;
                self.parts.push(PART_TEXT);
                self.parts.extend_from_slice(&(piece.len() as u32).to_le_bytes());
                self.parts.extend_from_slice(piece);
                continue;
            }
            let hash = chunks::hash(piece);
            self.parts.push(PART_CHUNK);
            self.parts.extend_from_slice(&hash);
            if self.seen.insert(hash) {
                self.sink.add(hash, piece)?;
            }
        }
        self.len += self.pending.len();
        self.pending.clear();
        Ok(())
    }

    /// Ends the current record: its text whole when it is at most `whole_limit` bytes and
    /// nothing was cut yet, else its parts.
    pub(super) fn finish_record(&mut self, whole_limit: usize) -> Result<Text, StoreError> {
        let text = if self.parts.is_empty() && self.pending.len() <= whole_limit {
            Text::Whole(std::mem::take(&mut self.pending))
        } else {
            self.cut()?;
            self.texts = 0;
            Text::Parts(std::mem::take(&mut self.parts))
        };
        self.len = 0;
        Ok(text)
    }

    /// The nodes this writer chunked on its own, to remember once their chunks are stored.
    pub(super) fn into_made(self) -> MadeNodes {
        self.made.into_values().collect()
    }
}

/// Whether `json` is an array or object chunked on its own.
fn large(json: &Json) -> bool {
    matches!(json, Json::Array(_) | Json::Object(_)) && json.text_len() >= NODE_MIN
}

/// The string that stands for the `i`-th large payload of an event while it is written.
fn marker(i: usize) -> String {
    format!("\u{0}sfnlite:payload:{i}\u{0}")
}

fn store_error(e: serde_json::Error) -> StoreError {
    StoreError::Io(format!("cannot write a record: {e}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sfnlite_states::history::{EventDetails, StateType};

    use super::*;

    /// Keeps what it is given.
    #[derive(Default)]
    struct Kept(HashMap<ChunkHash, Vec<u8>>, usize);

    impl ChunkSink for Kept {
        fn add(&mut self, hash: ChunkHash, bytes: &[u8]) -> Result<(), StoreError> {
            self.1 += 1;
            self.0.entry(hash).or_insert_with(|| bytes.to_vec());
            Ok(())
        }
    }

    impl Kept {
        fn text(&self, record: &Text) -> Vec<u8> {
            match record {
                Text::Whole(text) => text.clone(),
                Text::Parts(list) => parts(list)
                    .unwrap()
                    .into_iter()
                    .flat_map(|part| match part {
                        Part::Chunk(hash) => self.0[hash].clone(),
                        Part::Text(text) => text.to_vec(),
                    })
                    .collect(),
            }
        }
    }

    fn document(rows: usize) -> Value {
        let rows: Vec<Value> = (0..rows)
            .map(|i| json!({"id": i, "title": format!("row \"{i}\" \u{e9}\n"), "n": 1.5e300, "x": [null, true], "k\"\u{1}\\": -0.0}))
            .collect();
        json!({"meta": {"k": "v"}, "payload": {"data": rows, "step": 0}})
    }

    fn entered(id: u64, input: Payload) -> HistoryEvent {
        HistoryEvent {
            id,
            previous_event_id: id - 1,
            timestamp: 1_700_000_000_000 + id as i64,
            details: EventDetails::StateEntered { state_type: StateType::Pass, name: "S".into(), input },
        }
    }

    fn record_of(events: &[HistoryEvent], sink: &mut Kept, memo: &NodeMemo) -> (Text, MadeNodes) {
        let known = |json: &Json| memo.get(json);
        let mut writer = RecordWriter::new(sink, &known);
        for (i, event) in events.iter().enumerate() {
            writer.raw(if i == 0 { b"[" } else { b"," });
            writer.event(event).unwrap();
        }
        writer.raw(b"]");
        let text = writer.finish_record(16 * 1024).unwrap();
        (text, writer.into_made())
    }

    #[test]
    fn a_record_is_the_text_serde_gives_and_shared_nodes_are_written_once() {
        let value = document(2_000);
        let json = Json::from(&value);
        let shared = Payload::from_json(json.clone());
        // The same node in two events, a copy of it (equal, not the same node), and its
        // `data` inside a new object (the node shared, its parent not).
        let Json::Object(root) = &json else { panic!() };
        let payload = root.items()["payload"].clone();
        let mut entries = sfnlite_states::json::Entries::new();
        entries.insert("wrapped".into(), payload.clone());
        let events = vec![
            entered(2, shared.clone()),
            entered(3, shared.clone()),
            entered(4, Payload::from_json(Json::from(&value))),
            entered(5, Payload::from_json(Json::object(entries))),
            entered(6, Payload::new(value.clone())),
            entered(7, Payload::from_json(Json::from(json!({"small": 1})))),
            // Large nodes after the first item of an array, under a key that needs escapes.
            entered(8, Payload::from_json(Json::array(vec![Json::from(json!(1)), payload.clone(), payload.clone()]))),
            entered(
                9,
                Payload::from_json(Json::object(sfnlite_states::json::Entries::from([(
                    "\"q\"\n".to_owned(),
                    payload.clone(),
                )]))),
            ),
        ];
        let mut sink = Kept::default();
        let memo = NodeMemo::default();
        let (text, made) = record_of(&events, &mut sink, &memo);
        assert_eq!(sink.text(&text), serde_json::to_vec(&events).unwrap());
        // Short pieces (between large nodes, at the ends) are kept in the record.
        assert!(sink.0.values().all(|chunk| chunk.len() > TEXT_PART_MAX));
        assert!(matches!(text, Text::Parts(_)));
        // The root and its `payload` node were chunked on their own and remembered (`data`
        // too: it is large), and so were the copy's own nodes.
        assert!(made.iter().any(|(node, _)| node.same_node(&json)));
        assert!(made.iter().any(|(node, _)| node.same_node(&payload)));
        // A second record with the same nodes, the memo filled: the same text, and no chunk
        // of the shared document handed to the store again.
        let mut memo = NodeMemo::default();
        memo.extend(made);
        let handed = sink.1;
        let (again, _) = record_of(&events[..2], &mut sink, &memo);
        assert_eq!(sink.text(&again), serde_json::to_vec(&events[..2]).unwrap());
        assert!(sink.1 - handed <= 4, "{} chunks handed again", sink.1 - handed);
    }

    #[test]
    fn a_marker_that_the_event_itself_holds_writes_it_plainly() {
        let mut large = document(1_000);
        // In the payload itself, a marker is only data.
        large["payload"]["note"] = json!(marker(0));
        let mut event = entered(2, Payload::from_json(Json::from(&large)));
        let mut sink = Kept::default();
        let (text, made) = record_of(std::slice::from_ref(&event), &mut sink, &NodeMemo::default());
        assert_eq!(sink.text(&text), serde_json::to_vec(&[&event]).unwrap());
        assert!(!made.is_empty());
        // Elsewhere in the event (here its state's name), it is a second marker.
        let EventDetails::StateEntered { name, .. } = &mut event.details else { panic!() };
        *name = marker(0).into();
        let (text, made) = record_of(std::slice::from_ref(&event), &mut sink, &NodeMemo::default());
        assert_eq!(sink.text(&text), serde_json::to_vec(&[&event]).unwrap());
        assert!(made.is_empty());
    }

    #[test]
    fn thin_wrappers_around_shared_nodes_keep_lists_short() {
        // A loop that wraps its input: each payload is `{"prev": <the last one>, "n": k}`.
        let mut json = Json::from(document(400));
        let mut memo = NodeMemo::default();
        let mut sink = Kept::default();
        for n in 0..300 {
            let mut entries = sfnlite_states::json::Entries::new();
            entries.insert("prev".into(), json);
            entries.insert("n".into(), Json::from(json!(n)));
            json = Json::object(entries);
            let events = vec![entered(n + 2, Payload::from_json(json.clone()))];
            let (text, made) = record_of(&events, &mut sink, &memo);
            let expected = serde_json::to_vec(&events).unwrap();
            assert_eq!(sink.text(&text), expected);
            let Text::Parts(list) = text else { panic!("a large record is chunked") };
            let texts = parts(&list).unwrap().into_iter().filter(|part| matches!(part, Part::Text(_))).count();
            assert!(texts <= text_parts_limit(expected.len()) + 8, "{texts} text parts");
            memo.extend(made);
        }
        // The memo holds lists no longer than that either.
        assert!(memo.entries.values().all(|(_, parts)| parts.texts <= text_parts_limit(json.text_len())));
    }

    #[test]
    fn a_node_of_many_long_strings_is_remembered_and_their_ends_stored_once() {
        let letters = |n: usize, seed: u64| -> String {
            let mut state = seed;
            (0..n)
                .map(|_| {
                    state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                    char::from(b'a' + ((state >> 33) % 26) as u8)
                })
                .collect()
        };
        let rows: Vec<Value> = (0..200).map(|i| json!({"id": i, "body": letters(5_000, i as u64)})).collect();
        let json = Json::from(json!({"rows": rows}));
        let events = vec![entered(2, Payload::from_json(json.clone())), entered(3, Payload::from_json(json.clone()))];
        let mut sink = Kept::default();
        let (text, made) = record_of(&events, &mut sink, &NodeMemo::default());
        assert_eq!(sink.text(&text), serde_json::to_vec(&events).unwrap());
        assert!(made.iter().any(|(node, _)| node.same_node(&json)), "the node is remembered");
        // Every piece of a long string is a chunk, the short ones too; the record keeps only
        // the short texts between them.
        let Text::Parts(list) = &text else { panic!() };
        let kept: usize = parts(list)
            .unwrap()
            .into_iter()
            .map(|part| match part {
                Part::Text(text) => text.len(),
                Part::Chunk(_) => 0,
            })
            .sum();
        assert!(kept < 200 * 2 * 30, "{kept} bytes of text kept in the record");
        assert!(sink.0.values().any(|chunk| chunk.len() <= TEXT_PART_MAX), "a string's short end is a chunk");
    }

    #[test]
    fn a_damaged_list_of_parts_is_reported() {
        let hash = [9u8; 32];
        let mut list = vec![PART_CHUNK];
        list.extend_from_slice(&hash);
        list.push(PART_TEXT);
        list.extend_from_slice(&3u32.to_le_bytes());
        list.extend_from_slice(b"abc");
        assert_eq!(parts(&list).unwrap(), vec![Part::Chunk(&hash), Part::Text(b"abc")]);
        assert_eq!(parts(&list[..list.len() - 1]).unwrap_err(), "a text part of 3 bytes where 2 remain");
        assert_eq!(parts(&list[..20]).unwrap_err(), "a chunk part cut short");
        assert_eq!(parts(&list[..35]).unwrap_err(), "a text part cut short");
        assert_eq!(parts(&[7]).unwrap_err(), "a part with the unknown tag 7");
        assert!(parts(&[]).unwrap().is_empty());
    }

    #[test]
    fn the_memo_forgets_dropped_nodes() {
        let json = Json::from(document(1_000));
        let mut memo = NodeMemo::default();
        memo.extend(vec![(json.clone(), NodeParts { list: Arc::from(vec![7u8; 33]), texts: 0 })]);
        assert_eq!(memo.get(&json).map(|parts| parts.list).as_deref(), Some(&[7u8; 33][..]));
        let equal = Json::from(document(1_000));
        assert!(memo.get(&equal).is_none());
        drop(json);
        assert_eq!(memo.len(), 1);
        // A dropped node matches nothing, even a new node at the same address.
        for _ in 0..100 {
            let fresh = Json::from(document(2));
            assert!(memo.get(&fresh).is_none());
        }
    }
}
