//! Athena's Hive DDL and utility statements, parsed here (queries go to the SQL engine):
//! `CREATE DATABASE`, `CREATE EXTERNAL TABLE`, `DROP TABLE`, `DROP DATABASE`, `SHOW TABLES`,
//! `SHOW DATABASES`, `ALTER TABLE … ADD PARTITION`, `MSCK REPAIR TABLE`, `DESCRIBE`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A Hive column type, as written in DDL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum HiveType {
    /// boolean
    Boolean,
    /// tinyint
    TinyInt,
    /// smallint
    SmallInt,
    /// int, integer
    Int,
    /// bigint
    BigInt,
    /// float, real
    Float,
    /// double
    Double,
    /// decimal(p, s)
    Decimal {
        /// Precision.
        precision: u8,
        /// Scale.
        scale: i8,
    },
    /// string, varchar(n), char(n)
    String {
        /// The declared length, if any.
        length: Option<u32>,
    },
    /// binary
    Binary,
    /// date
    Date,
    /// timestamp
    Timestamp,
    /// array<T>
    Array {
        /// Element type.
        element: Box<HiveType>,
    },
    /// map<K, V>
    Map {
        /// Key type.
        key: Box<HiveType>,
        /// Value type.
        value: Box<HiveType>,
    },
    /// struct<name: T, …>
    Struct {
        /// The fields.
        fields: Vec<(String, HiveType)>,
    },
}

impl std::fmt::Display for HiveType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HiveType::Boolean => write!(f, "boolean"),
            HiveType::TinyInt => write!(f, "tinyint"),
            HiveType::SmallInt => write!(f, "smallint"),
            HiveType::Int => write!(f, "int"),
            HiveType::BigInt => write!(f, "bigint"),
            HiveType::Float => write!(f, "float"),
            HiveType::Double => write!(f, "double"),
            HiveType::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
            HiveType::String { length: None } => write!(f, "string"),
            HiveType::String { length: Some(n) } => write!(f, "varchar({n})"),
            HiveType::Binary => write!(f, "binary"),
            HiveType::Date => write!(f, "date"),
            HiveType::Timestamp => write!(f, "timestamp"),
            HiveType::Array { element } => write!(f, "array<{element}>"),
            HiveType::Map { key, value } => write!(f, "map<{key},{value}>"),
            HiveType::Struct { fields } => {
                write!(f, "struct<")?;
                for (i, (name, ty)) in fields.iter().enumerate() {
                    if i > 0 {
                        write!(f, ",")?;
                    }
                    write!(f, "{name}:{ty}")?;
                }
                write!(f, ">")
            }
        }
    }
}

/// A column: name (lower case, as Glue stores it) and type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// The name.
    pub name: String,
    /// The type.
    #[serde(rename = "type")]
    pub ty: HiveType,
}

/// How a table's files are read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Delimited text (LazySimpleSerDe).
    Delimited,
    /// Quoted CSV (OpenCSVSerde).
    OpenCsv,
    /// One JSON object per line (Hive JsonSerDe, OpenX JsonSerDe).
    Json,
    /// Apache Parquet.
    Parquet,
}

/// A `CREATE EXTERNAL TABLE`, as the catalog keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableDef {
    /// The table name (lower case).
    pub name: String,
    /// The data columns, in order.
    pub columns: Vec<Column>,
    /// The partition columns (`PARTITIONED BY`).
    #[serde(default)]
    pub partition_keys: Vec<Column>,
    /// The `LOCATION` (an `s3://` folder).
    pub location: String,
    /// How its files are read.
    pub format: Format,
    /// The SerDe class.
    pub serde: String,
    /// SerDe parameters (`field.delim`, `separatorChar`, …).
    #[serde(default)]
    pub serde_parameters: BTreeMap<String, String>,
    /// `TBLPROPERTIES`.
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    /// Partitions added by `ALTER TABLE … ADD PARTITION`: values (in key order) and location.
    #[serde(default)]
    pub partitions: Vec<(Vec<String>, String)>,
    /// When the table was created (epoch ms; 0 for tables recorded before this was kept).
    #[serde(default)]
    pub created_millis: i64,
}

/// One partition of `ALTER TABLE … ADD PARTITION`: its `key = 'value'` pairs and optional location.
pub type PartitionSpec = (Vec<(String, String)>, Option<String>);

/// A statement Athena runs itself rather than in the SQL engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statement {
    /// `CREATE DATABASE|SCHEMA [IF NOT EXISTS] name …`
    CreateDatabase {
        /// The database.
        name: String,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
    },
    /// `DROP DATABASE|SCHEMA [IF EXISTS] name [CASCADE]`
    DropDatabase {
        /// The database.
        name: String,
        /// `IF EXISTS`.
        if_exists: bool,
        /// `CASCADE`.
        cascade: bool,
    },
    /// `CREATE EXTERNAL TABLE …`
    CreateTable {
        /// The database, when qualified.
        database: Option<String>,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
        /// The table.
        table: TableDef,
    },
    /// `DROP TABLE [IF EXISTS] [db.]name`
    DropTable {
        /// The database, when qualified.
        database: Option<String>,
        /// The table.
        name: String,
        /// `IF EXISTS`.
        if_exists: bool,
    },
    /// `SHOW DATABASES|SCHEMAS [LIKE 'pattern']`
    ShowDatabases {
        /// The pattern.
        pattern: Option<String>,
    },
    /// `SHOW TABLES [IN db] ['pattern']`
    ShowTables {
        /// The database.
        database: Option<String>,
        /// The pattern.
        pattern: Option<String>,
    },
    /// `DESCRIBE [db.]table`
    Describe {
        /// The database, when qualified.
        database: Option<String>,
        /// The table.
        name: String,
    },
    /// `ALTER TABLE [db.]t ADD [IF NOT EXISTS] PARTITION (k='v', …) [LOCATION '…'] …`
    AddPartitions {
        /// The database, when qualified.
        database: Option<String>,
        /// The table.
        name: String,
        /// Each partition's key values and optional location.
        partitions: Vec<PartitionSpec>,
    },
    /// `MSCK REPAIR TABLE [db.]t` (partitions are discovered at query time, so this only checks the table).
    RepairTable {
        /// The database, when qualified.
        database: Option<String>,
        /// The table.
        name: String,
    },
}

/// A DDL error: a message in Athena's style.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DdlError(pub String);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    Str(String),
    Number(String),
    Punct(char),
}

fn tokenize(sql: &str) -> Result<Vec<Token>, DdlError> {
    let chars: Vec<char> = sql.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && chars.get(i + 1) == Some(&'-') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
        } else if c == '\'' {
            let (text, next) = string_literal(&chars, i)?;
            tokens.push(Token::Str(text));
            i = next;
        } else if c == '`' || c == '"' {
            let mut text = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(DdlError(format!("line 1:{}: unterminated quoted identifier", i + 1))),
                    Some(&q) if q == c && chars.get(i + 1) == Some(&c) => {
                        text.push(c);
                        i += 2;
                    }
                    Some(&q) if q == c => {
                        i += 1;
                        break;
                    }
                    Some(&other) => {
                        text.push(other);
                        i += 1;
                    }
                }
            }
            tokens.push(Token::Quoted(text));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            tokens.push(Token::Number(chars[start..i].iter().collect()));
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$') {
                i += 1;
            }
            tokens.push(Token::Word(chars[start..i].iter().collect()));
        } else {
            tokens.push(Token::Punct(c));
            i += 1;
        }
    }
    Ok(tokens)
}

/// A Hive string literal from `chars[start]` (a `'`): `''` and backslash escapes (`\t`, `\n`,
/// `\001`, `\\`, `\'`) as Hive reads them. Returns the text and the index after it.
fn string_literal(chars: &[char], start: usize) -> Result<(String, usize), DdlError> {
    let mut text = String::new();
    let mut i = start + 1;
    loop {
        match chars.get(i) {
            None => return Err(DdlError(format!("line 1:{}: unterminated string literal", start + 1))),
            Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                text.push('\'');
                i += 2;
            }
            Some('\'') => return Ok((text, i + 1)),
            Some('\\') => {
                let next = chars.get(i + 1).copied().unwrap_or('\\');
                i += 2;
                match next {
                    't' => text.push('\t'),
                    'n' => text.push('\n'),
                    'r' => text.push('\r'),
                    '0'..='7' => {
                        let mut value = next.to_digit(8).unwrap_or(0);
                        let mut digits = 1;
                        while digits < 3 && chars.get(i).is_some_and(|d| d.is_digit(8)) {
                            value = value * 8 + chars[i].to_digit(8).unwrap_or(0);
                            i += 1;
                            digits += 1;
                        }
                        text.push(char::from_u32(value).unwrap_or('\0'));
                    }
                    other => text.push(other),
                }
            }
            Some(&other) => {
                text.push(other);
                i += 1;
            }
        }
    }
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    /// Nesting of `array<`, `map<`, `struct<` (bounded, so a crafted type cannot exhaust the stack).
    depth: usize,
}

const MAX_TYPE_DEPTH: usize = 32;

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn eat_keyword(&mut self, word: &str) -> bool {
        if self.peek_keyword(word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn eat_keywords(&mut self, words: &[&str]) -> bool {
        let save = self.pos;
        for word in words {
            if !self.eat_keyword(word) {
                self.pos = save;
                return false;
            }
        }
        true
    }

    fn describe(&self) -> String {
        match self.peek() {
            None => "end of statement".to_owned(),
            Some(Token::Word(w) | Token::Number(w)) => format!("'{w}'"),
            Some(Token::Quoted(w)) => format!("'\"{w}\"'"),
            Some(Token::Str(s)) => format!("'''{s}'''"),
            Some(Token::Punct(c)) => format!("'{c}'"),
        }
    }

    fn error<T>(&self, expected: &str) -> Result<T, DdlError> {
        Err(DdlError(format!("line 1:{}: mismatched input {}. Expecting: {expected}", self.pos + 1, self.describe())))
    }

    fn expect_keyword(&mut self, word: &str) -> Result<(), DdlError> {
        if self.eat_keyword(word) { Ok(()) } else { self.error(&format!("'{}'", word.to_uppercase())) }
    }

    fn eat_punct(&mut self, c: char) -> bool {
        if self.peek() == Some(&Token::Punct(c)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_punct(&mut self, c: char) -> Result<(), DdlError> {
        if self.eat_punct(c) { Ok(()) } else { self.error(&format!("'{c}'")) }
    }

    fn identifier(&mut self) -> Result<String, DdlError> {
        match self.peek().cloned() {
            Some(Token::Word(w) | Token::Quoted(w)) => {
                self.pos += 1;
                Ok(w.to_lowercase())
            }
            _ => self.error("an identifier"),
        }
    }

    fn string(&mut self) -> Result<String, DdlError> {
        match self.peek().cloned() {
            Some(Token::Str(s)) => {
                self.pos += 1;
                Ok(s)
            }
            _ => self.error("a string literal"),
        }
    }

    fn number(&mut self) -> Result<u32, DdlError> {
        match self.peek().cloned() {
            Some(Token::Number(n)) => {
                self.pos += 1;
                n.parse().or_else(|_| self.error("an integer"))
            }
            _ => self.error("an integer"),
        }
    }

    /// `[db.]name`
    fn qualified(&mut self) -> Result<(Option<String>, String), DdlError> {
        let first = self.name()?;
        if self.eat_punct('.') { Ok((Some(first), self.name()?)) } else { Ok((None, first)) }
    }

    /// A database or table name, held to Athena's rule: at most 255 characters, only lowercase letters,
    /// digits and underscores (names are lowercased first, as Athena does). A definition that works
    /// here must work on AWS, so a name Athena refuses is refused here too.
    fn name(&mut self) -> Result<String, DdlError> {
        let name = self.identifier()?;
        let valid = !name.is_empty()
            && name.len() <= 255
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if valid {
            Ok(name)
        } else {
            Err(DdlError(format!(
                "invalid name '{name}': database and table names may hold only lowercase letters, digits and underscores, at most 255 characters (Athena's rule)"
            )))
        }
    }

    fn properties(&mut self) -> Result<BTreeMap<String, String>, DdlError> {
        self.expect_punct('(')?;
        let mut map = BTreeMap::new();
        loop {
            let key = self.string()?;
            self.expect_punct('=')?;
            let value = self.string()?;
            map.insert(key, value);
            if !self.eat_punct(',') {
                break;
            }
        }
        self.expect_punct(')')?;
        Ok(map)
    }

    fn hive_type(&mut self) -> Result<HiveType, DdlError> {
        if self.depth >= MAX_TYPE_DEPTH {
            return Err(DdlError(format!(
                "line 1:{}: types may nest at most {MAX_TYPE_DEPTH} levels deep",
                self.pos + 1
            )));
        }
        self.depth += 1;
        let ty = self.hive_type_inner();
        self.depth -= 1;
        ty
    }

    fn hive_type_inner(&mut self) -> Result<HiveType, DdlError> {
        let word = match self.peek().cloned() {
            Some(Token::Word(w)) => {
                self.pos += 1;
                w.to_lowercase()
            }
            _ => return self.error("a column type"),
        };
        Ok(match word.as_str() {
            "boolean" => HiveType::Boolean,
            "tinyint" => HiveType::TinyInt,
            "smallint" => HiveType::SmallInt,
            "int" | "integer" => HiveType::Int,
            "bigint" => HiveType::BigInt,
            "float" | "real" => HiveType::Float,
            "double" => {
                self.eat_keyword("precision");
                HiveType::Double
            }
            "string" => HiveType::String { length: None },
            "varchar" | "char" => {
                let length = if self.eat_punct('(') {
                    let n = self.number()?;
                    self.expect_punct(')')?;
                    Some(n)
                } else {
                    None
                };
                HiveType::String { length }
            }
            "binary" | "varbinary" => HiveType::Binary,
            "date" => HiveType::Date,
            "timestamp" => HiveType::Timestamp,
            "decimal" => {
                let (mut precision, mut scale) = (10, 0);
                if self.eat_punct('(') {
                    precision = self.number()?;
                    if self.eat_punct(',') {
                        scale = self.number()?;
                    }
                    self.expect_punct(')')?;
                }
                if !(1..=38).contains(&precision) || scale > precision {
                    return Err(DdlError(format!("invalid type decimal({precision},{scale})")));
                }
                HiveType::Decimal { precision: precision as u8, scale: scale as i8 }
            }
            "array" => {
                self.expect_punct('<')?;
                let element = Box::new(self.hive_type()?);
                self.expect_punct('>')?;
                HiveType::Array { element }
            }
            "map" => {
                self.expect_punct('<')?;
                let key = Box::new(self.hive_type()?);
                self.expect_punct(',')?;
                let value = Box::new(self.hive_type()?);
                self.expect_punct('>')?;
                HiveType::Map { key, value }
            }
            "struct" => {
                self.expect_punct('<')?;
                let mut fields = Vec::new();
                loop {
                    let name = self.identifier()?;
                    self.expect_punct(':')?;
                    fields.push((name, self.hive_type()?));
                    if !self.eat_punct(',') {
                        break;
                    }
                }
                self.expect_punct('>')?;
                HiveType::Struct { fields }
            }
            other => return Err(DdlError(format!("Unknown type: '{other}'"))),
        })
    }

    fn columns(&mut self) -> Result<Vec<Column>, DdlError> {
        self.expect_punct('(')?;
        let mut columns = Vec::new();
        loop {
            let name = self.identifier()?;
            let ty = self.hive_type()?;
            if self.eat_keyword("comment") {
                self.string()?;
            }
            columns.push(Column { name, ty });
            if !self.eat_punct(',') {
                break;
            }
        }
        self.expect_punct(')')?;
        Ok(columns)
    }

    fn end(&mut self) -> Result<(), DdlError> {
        self.eat_punct(';');
        if self.peek().is_some() { self.error("end of statement") } else { Ok(()) }
    }
}

/// `'%'`-free patterns of SHOW: `*` matches anything and `|` separates alternatives.
pub fn show_pattern_matches(pattern: &str, name: &str) -> bool {
    // Linear wildcard matching: backtrack only to the last `*`.
    fn glob(p: &[char], n: &[char]) -> bool {
        let (mut pi, mut ni) = (0, 0);
        let mut star: Option<(usize, usize)> = None;
        while ni < n.len() {
            if pi < p.len() && p[pi] == '*' {
                star = Some((pi, ni));
                pi += 1;
            } else if pi < p.len() && p[pi].eq_ignore_ascii_case(&n[ni]) {
                pi += 1;
                ni += 1;
            } else if let Some((sp, sn)) = star {
                pi = sp + 1;
                ni = sn + 1;
                star = Some((sp, sn + 1));
            } else {
                return false;
            }
        }
        p[pi..].iter().all(|c| *c == '*')
    }
    let name: Vec<char> = name.chars().collect();
    pattern.split('|').any(|alt| glob(&alt.trim().chars().collect::<Vec<_>>(), &name))
}

const LAZY_SIMPLE: &str = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe";

/// Parses `sql` when it is a statement Athena runs itself; `Ok(None)` for queries (SELECT,
/// WITH, VALUES, EXPLAIN…), which go to the SQL engine.
pub fn parse(sql: &str) -> Result<Option<Statement>, DdlError> {
    let tokens = tokenize(sql)?;
    let mut p = Parser { tokens, pos: 0, depth: 0 };
    let statement = if p.eat_keyword("create") {
        if p.eat_keyword("database") || p.eat_keyword("schema") {
            let if_not_exists = p.eat_keywords(&["if", "not", "exists"]);
            let name = p.name()?;
            // COMMENT, LOCATION and DBPROPERTIES are accepted and not needed locally.
            loop {
                if p.eat_keyword("comment") || p.eat_keyword("location") {
                    p.string()?;
                } else if p.eat_keywords(&["with", "dbproperties"]) {
                    p.properties()?;
                } else {
                    break;
                }
            }
            Statement::CreateDatabase { name, if_not_exists }
        } else {
            let external = p.eat_keyword("external");
            if !p.eat_keyword("table") {
                return p.error("'DATABASE', 'SCHEMA', 'EXTERNAL TABLE'");
            }
            if !external {
                return Err(DdlError(
                    "Only external tables are supported: CREATE EXTERNAL TABLE … LOCATION 's3://…' (CREATE TABLE AS SELECT is not supported by sfnlite)".into(),
                ));
            }
            let if_not_exists = p.eat_keywords(&["if", "not", "exists"]);
            let (database, name) = p.qualified()?;
            create_table(&mut p, database, name, if_not_exists)?
        }
    } else if p.eat_keyword("drop") {
        if p.eat_keyword("database") || p.eat_keyword("schema") {
            let if_exists = p.eat_keywords(&["if", "exists"]);
            let name = p.name()?;
            let cascade = p.eat_keyword("cascade");
            if !cascade {
                p.eat_keyword("restrict");
            }
            Statement::DropDatabase { name, if_exists, cascade }
        } else {
            p.expect_keyword("table")?;
            let if_exists = p.eat_keywords(&["if", "exists"]);
            let (database, name) = p.qualified()?;
            Statement::DropTable { database, name, if_exists }
        }
    } else if p.eat_keyword("show") {
        if p.eat_keyword("databases") || p.eat_keyword("schemas") {
            let pattern =
                if p.eat_keyword("like") || matches!(p.peek(), Some(Token::Str(_))) { Some(p.string()?) } else { None };
            Statement::ShowDatabases { pattern }
        } else {
            p.expect_keyword("tables")?;
            let database = if p.eat_keyword("in") || p.eat_keyword("from") { Some(p.name()?) } else { None };
            let pattern = if matches!(p.peek(), Some(Token::Str(_))) { Some(p.string()?) } else { None };
            Statement::ShowTables { database, pattern }
        }
    } else if p.eat_keyword("describe") || p.eat_keyword("desc") {
        p.eat_keyword("formatted");
        p.eat_keyword("extended");
        let (database, name) = p.qualified()?;
        Statement::Describe { database, name }
    } else if p.eat_keywords(&["msck", "repair", "table"]) {
        let (database, name) = p.qualified()?;
        Statement::RepairTable { database, name }
    } else if p.eat_keyword("alter") {
        p.expect_keyword("table")?;
        let (database, name) = p.qualified()?;
        p.expect_keyword("add")?;
        p.eat_keywords(&["if", "not", "exists"]);
        let mut partitions = Vec::new();
        while p.eat_keyword("partition") {
            p.expect_punct('(')?;
            let mut values = Vec::new();
            loop {
                let key = p.identifier()?;
                p.expect_punct('=')?;
                let value = match p.peek().cloned() {
                    Some(Token::Number(n)) => {
                        p.pos += 1;
                        n
                    }
                    _ => p.string()?,
                };
                values.push((key, value));
                if !p.eat_punct(',') {
                    break;
                }
            }
            p.expect_punct(')')?;
            let location = if p.eat_keyword("location") { Some(p.string()?) } else { None };
            partitions.push((values, location));
        }
        if partitions.is_empty() {
            return p.error("'PARTITION'");
        }
        Statement::AddPartitions { database, name, partitions }
    } else {
        return Ok(None);
    };
    p.end()?;
    Ok(Some(statement))
}

fn create_table(
    p: &mut Parser,
    database: Option<String>,
    name: String,
    if_not_exists: bool,
) -> Result<Statement, DdlError> {
    let columns = p.columns()?;
    let mut table = TableDef {
        name,
        columns,
        partition_keys: Vec::new(),
        location: String::new(),
        format: Format::Delimited,
        serde: LAZY_SIMPLE.to_owned(),
        serde_parameters: BTreeMap::new(),
        parameters: BTreeMap::new(),
        partitions: Vec::new(),
        created_millis: 0,
    };
    let mut stored_as = None;
    let mut location = None;
    loop {
        if p.eat_keyword("comment") {
            p.string()?;
        } else if p.eat_keywords(&["partitioned", "by"]) {
            table.partition_keys = p.columns()?;
        } else if p.eat_keywords(&["row", "format", "delimited"]) {
            let delimiters = [
                (&["fields", "terminated", "by"][..], "field.delim"),
                (&["escaped", "by"][..], "escape.delim"),
                (&["collection", "items", "terminated", "by"][..], "collection.delim"),
                (&["map", "keys", "terminated", "by"][..], "mapkey.delim"),
                (&["lines", "terminated", "by"][..], "line.delim"),
                (&["null", "defined", "as"][..], "serialization.null.format"),
            ];
            'clauses: loop {
                for (words, key) in delimiters {
                    if p.eat_keywords(words) {
                        let value = p.string()?;
                        table.serde_parameters.insert(key.to_owned(), value);
                        continue 'clauses;
                    }
                }
                break;
            }
        } else if p.eat_keywords(&["row", "format", "serde"]) {
            table.serde = p.string()?;
            if p.eat_keywords(&["with", "serdeproperties"]) {
                table.serde_parameters.extend(p.properties()?);
            }
        } else if p.eat_keywords(&["with", "serdeproperties"]) {
            table.serde_parameters.extend(p.properties()?);
        } else if p.eat_keywords(&["stored", "as"]) {
            if p.eat_keyword("inputformat") {
                let input = p.string()?;
                p.expect_keyword("outputformat")?;
                p.string()?;
                stored_as =
                    Some(if input.to_lowercase().contains("parquet") { "parquet" } else { "textfile" }.to_owned());
            } else {
                stored_as = Some(p.identifier()?);
            }
        } else if p.eat_keyword("location") {
            location = Some(p.string()?);
        } else if p.eat_keyword("tblproperties") {
            table.parameters = p.properties()?;
        } else {
            break;
        }
    }
    table.format = match stored_as.as_deref() {
        Some("parquet") => Format::Parquet,
        Some("textfile") | None => {
            let serde = table.serde.to_lowercase();
            if serde.contains("opencsvserde") {
                Format::OpenCsv
            } else if serde.contains("json") {
                Format::Json
            } else if serde.contains("lazysimpleserde") || serde.contains("lazybinary") {
                Format::Delimited
            } else if serde.contains("parquet") {
                Format::Parquet
            } else {
                return Err(DdlError(format!("sfnlite does not support the SerDe '{}'", table.serde)));
            }
        }
        Some(other) => {
            return Err(DdlError(format!(
                "sfnlite does not support STORED AS {}: use TEXTFILE (delimited, CSV or JSON) or PARQUET",
                other.to_uppercase()
            )));
        }
    };
    if table.format == Format::Parquet && !table.serde.to_lowercase().contains("parquet") {
        table.serde = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe".to_owned();
    }
    let Some(location) = location else {
        return Err(DdlError("CREATE EXTERNAL TABLE needs a LOCATION 's3://bucket/prefix/'".into()));
    };
    if !location.starts_with("s3://") && !location.starts_with("S3://") {
        return Err(DdlError(format!("LOCATION must be an s3:// folder, not '{location}'")));
    }
    table.location = location;
    if p.peek_keyword("as") {
        return Err(DdlError("CREATE TABLE AS SELECT is not supported by sfnlite".into()));
    }
    Ok(Statement::CreateTable { database, if_not_exists, table })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_athenas_rule() {
        for sql in [
            r#"CREATE DATABASE "../../x""#,
            "CREATE DATABASE `a/b`",
            "CREATE SCHEMA `café`",
            "DROP DATABASE `..`",
            "CREATE EXTERNAL TABLE `..`.t (a int) LOCATION 's3://b/p/'",
            "CREATE EXTERNAL TABLE db.`t-1` (a int) LOCATION 's3://b/p/'",
            "DROP TABLE db.`x/y`",
            "MSCK REPAIR TABLE `.`",
        ] {
            let error = parse(sql).unwrap_err().0;
            assert!(error.contains("invalid name") && error.contains("Athena's rule"), "{sql}: {error}");
        }
        let long = "a".repeat(256);
        assert!(parse(&format!("CREATE DATABASE {long}")).unwrap_err().0.contains("255"));
        let Some(Statement::CreateDatabase { name, .. }) = parse("CREATE DATABASE Sales_2026").unwrap() else {
            panic!("not a CREATE DATABASE")
        };
        assert_eq!(name, "sales_2026");
    }

    #[test]
    fn cloudfront_ddl() {
        let sql = "CREATE EXTERNAL TABLE IF NOT EXISTS serverlessland_database.cf_access_logs (
            `date` DATE, time STRING, bytes BIGINT, time_taken FLOAT, price decimal(10, 2),
            tags array<string>, attrs map<string,int>, who struct<name:string, age:int>)
          ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\t'
          LOCATION 's3://logs/cf/'
          TBLPROPERTIES ( 'skip.header.line.count'='2' );";
        let Some(Statement::CreateTable { database, if_not_exists, table }) = parse(sql).unwrap() else {
            panic!("not a CREATE TABLE")
        };
        assert_eq!(database.as_deref(), Some("serverlessland_database"));
        assert!(if_not_exists);
        assert_eq!(table.columns[0], Column { name: "date".into(), ty: HiveType::Date });
        assert_eq!(table.columns[3].ty, HiveType::Float);
        assert_eq!(table.columns[4].ty, HiveType::Decimal { precision: 10, scale: 2 });
        assert_eq!(table.columns[7].ty.to_string(), "struct<name:string,age:int>");
        assert_eq!(table.serde_parameters["field.delim"], "\t");
        assert_eq!(table.parameters["skip.header.line.count"], "2");
        assert_eq!(table.format, Format::Delimited);
    }

    #[test]
    fn serdes_partitions_and_errors() {
        let csv = "CREATE EXTERNAL TABLE t (a string) PARTITIONED BY (dt string)
          ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde'
          WITH SERDEPROPERTIES ('separatorChar' = ',', 'quoteChar' = '\"')
          STORED AS TEXTFILE LOCATION 's3://b/t/'";
        let Some(Statement::CreateTable { table, .. }) = parse(csv).unwrap() else { panic!() };
        assert_eq!((table.format, table.partition_keys.len()), (Format::OpenCsv, 1));
        let parquet = "CREATE EXTERNAL TABLE p (a int) STORED AS PARQUET LOCATION 's3://b/p/'";
        let Some(Statement::CreateTable { table, .. }) = parse(parquet).unwrap() else { panic!() };
        assert_eq!(table.format, Format::Parquet);
        assert!(parse("SELECT 1").unwrap().is_none());
        assert!(parse("  with x as (select 1) select * from x").unwrap().is_none());
        assert_eq!(
            parse("SHOW TABLES IN db 'cf*'").unwrap(),
            Some(Statement::ShowTables { database: Some("db".into()), pattern: Some("cf*".into()) })
        );
        let error = parse("CREATE EXTERNAL TABLE t (a strin) LOCATION 's3://b/'").unwrap_err();
        assert!(error.0.contains("Unknown type"), "{error}");
        let error = parse("CREATE EXTERNAL TABLE t (a int)").unwrap_err();
        assert!(error.0.contains("LOCATION"), "{error}");
        assert!(parse("DROP TABLE IF EXISTS db.t extra").is_err());
        assert!(show_pattern_matches("cf*|x", "CF_logs"));
        assert!(!show_pattern_matches("cf", "cf_logs"));
        assert!(!show_pattern_matches("*a*a*a*a*a*a*a*a*a*a*a*a*b", &"a".repeat(40)));
        let deep = format!(
            "CREATE EXTERNAL TABLE t (a {}int{}) LOCATION 's3://b/t/'",
            "array<".repeat(5000),
            ">".repeat(5000)
        );
        assert!(parse(&deep).unwrap_err().0.contains("nest"));
        let alter = "ALTER TABLE t ADD PARTITION (dt='2026-01-01') LOCATION 's3://b/t/2026/'";
        let Some(Statement::AddPartitions { partitions, .. }) = parse(alter).unwrap() else { panic!() };
        assert_eq!(partitions[0].0, [("dt".to_owned(), "2026-01-01".to_owned())]);
    }
}
