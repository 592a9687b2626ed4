//! Athena's text forms of values (the result CSV and GetQueryResults' `VarCharValue`) and
//! its column metadata (`ColumnInfo`).

use datafusion::arrow::array::{
    Array, AsArray, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float32Array, Float64Array,
    LargeBinaryArray, LargeStringArray, StringArray, StringViewArray,
};
use datafusion::arrow::datatypes::{
    DataType, Int8Type, Int16Type, Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use serde::{Deserialize, Serialize};
use sfnlite_states::timestamp::civil_from_days;

/// One column of a result, as GetQueryResults' `ColumnInfo` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ColumnInfo {
    /// Whether the values are case sensitive (true for varchar).
    pub case_sensitive: bool,
    /// Always `hive`.
    pub catalog_name: String,
    /// The column label.
    pub label: String,
    /// The column name.
    pub name: String,
    /// Always `UNKNOWN`.
    pub nullable: String,
    /// Athena's precision for the type.
    pub precision: i64,
    /// Athena's scale for the type.
    pub scale: i64,
    /// Always empty.
    pub schema_name: String,
    /// Always empty.
    pub table_name: String,
    /// Athena's type name (`varchar`, `bigint`, `row`…).
    #[serde(rename = "Type")]
    pub ty: String,
}

impl ColumnInfo {
    /// The ColumnInfo of a column named `name` of Arrow type `ty`.
    pub fn new(name: &str, ty: &DataType) -> ColumnInfo {
        let (type_name, precision, scale) = athena_type(ty);
        ColumnInfo {
            case_sensitive: type_name == "varchar",
            catalog_name: "hive".into(),
            label: name.into(),
            name: name.into(),
            nullable: "UNKNOWN".into(),
            precision,
            scale,
            schema_name: String::new(),
            table_name: String::new(),
            ty: type_name.into(),
        }
    }

    /// A varchar column (the results of DDL and utility statements).
    pub fn varchar(name: &str) -> ColumnInfo {
        ColumnInfo::new(name, &DataType::Utf8)
    }
}

/// Athena's name, precision and scale for an Arrow type.
fn athena_type(ty: &DataType) -> (&'static str, i64, i64) {
    match ty {
        DataType::Boolean => ("boolean", 0, 0),
        DataType::Int8 => ("tinyint", 3, 0),
        DataType::Int16 | DataType::UInt8 => ("smallint", 5, 0),
        DataType::Int32 | DataType::UInt16 => ("integer", 10, 0),
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => ("bigint", 19, 0),
        DataType::Float16 | DataType::Float32 => ("float", 17, 0),
        DataType::Float64 => ("double", 17, 0),
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => ("decimal", i64::from(*p), i64::from(*s)),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ("varchar", 2_147_483_647, 0),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) => {
            ("varbinary", 1_073_741_824, 0)
        }
        DataType::Date32 | DataType::Date64 => ("date", 0, 0),
        DataType::Timestamp(_, Some(_)) => ("timestamp with time zone", 3, 0),
        DataType::Timestamp(_, None) => ("timestamp", 3, 0),
        DataType::Time32(_) | DataType::Time64(_) => ("time", 3, 0),
        DataType::List(_) | DataType::LargeList(_) | DataType::ListView(_) | DataType::FixedSizeList(_, _) => {
            ("array", 0, 0)
        }
        DataType::Map(_, _) => ("map", 0, 0),
        DataType::Struct(_) => ("row", 0, 0),
        DataType::Interval(_) => ("interval day to second", 0, 0),
        DataType::Null => ("unknown", 0, 0),
        _ => ("varchar", 2_147_483_647, 0),
    }
}

/// A double as Java's `Double.toString` writes it (as Athena does): `1.0`, `0.25`, `1.0E10`.
pub fn format_double(value: f64, shortest: &str) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity".into() } else { "-Infinity".into() };
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    let magnitude = value.abs();
    if (1e-3..1e7).contains(&magnitude) {
        return if shortest.contains('.') || shortest.contains('e') {
            shortest.to_owned()
        } else {
            format!("{shortest}.0")
        };
    }
    // Scientific: d.dddE±n from the shortest digits.
    let scientific = format!("{value:e}"); // e.g. "1.5e10", "1e-5"
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let mantissa = if mantissa.contains('.') { mantissa.to_owned() } else { format!("{mantissa}.0") };
    format!("{mantissa}E{exponent}")
}

fn format_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

fn format_timestamp_millis(millis: i64) -> String {
    let days = millis.div_euclid(86_400_000);
    let rest = millis.rem_euclid(86_400_000);
    let (h, m, s, ms) = (rest / 3_600_000, rest / 60_000 % 60, rest / 1000 % 60, rest % 1000);
    format!("{} {h:02}:{m:02}:{s:02}.{ms:03}", format_date(days))
}

fn format_decimal(value: i128, scale: i8) -> String {
    if scale <= 0 {
        return 10i128
            .checked_pow(u32::from(scale.unsigned_abs()))
            .and_then(|factor| value.checked_mul(factor))
            .map_or_else(|| format!("{value}E{}", scale.unsigned_abs()), |v| v.to_string());
    }
    let digits = value.unsigned_abs().to_string();
    let scale = scale as usize;
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (whole, fraction) = padded.split_at(padded.len() - scale);
    format!("{}{whole}.{fraction}", if value < 0 { "-" } else { "" })
}

/// The text of `array[row]`, or `None` for NULL. Nested values render as Athena shows
/// them: `[1, 2]`, `{k=v}`, `{a=1, b=2}`, NULL inside as `null`.
pub fn render(array: &dyn Array, row: usize) -> Option<String> {
    if array.is_null(row) {
        return None;
    }
    let any = array.as_any();
    Some(match array.data_type() {
        DataType::Boolean => any.downcast_ref::<BooleanArray>()?.value(row).to_string(),
        DataType::Int8 => array.as_primitive::<Int8Type>().value(row).to_string(),
        DataType::Int16 => array.as_primitive::<Int16Type>().value(row).to_string(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(row).to_string(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(row).to_string(),
        DataType::UInt8 => array.as_primitive::<UInt8Type>().value(row).to_string(),
        DataType::UInt16 => array.as_primitive::<UInt16Type>().value(row).to_string(),
        DataType::UInt32 => array.as_primitive::<UInt32Type>().value(row).to_string(),
        DataType::UInt64 => array.as_primitive::<UInt64Type>().value(row).to_string(),
        DataType::Float32 => {
            let v = any.downcast_ref::<Float32Array>()?.value(row);
            format_double(f64::from(v), &v.to_string())
        }
        DataType::Float64 => {
            let v = any.downcast_ref::<Float64Array>()?.value(row);
            format_double(v, &v.to_string())
        }
        DataType::Decimal128(_, scale) => format_decimal(any.downcast_ref::<Decimal128Array>()?.value(row), *scale),
        DataType::Utf8 => any.downcast_ref::<StringArray>()?.value(row).to_owned(),
        DataType::LargeUtf8 => any.downcast_ref::<LargeStringArray>()?.value(row).to_owned(),
        DataType::Utf8View => any.downcast_ref::<StringViewArray>()?.value(row).to_owned(),
        DataType::Binary => hex_bytes(any.downcast_ref::<BinaryArray>()?.value(row)),
        DataType::LargeBinary => hex_bytes(any.downcast_ref::<LargeBinaryArray>()?.value(row)),
        DataType::Date32 => format_date(i64::from(any.downcast_ref::<Date32Array>()?.value(row))),
        DataType::Timestamp(unit, tz) => {
            let millis = match unit {
                TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(row).saturating_mul(1000),
                TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().value(row),
                TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().value(row).div_euclid(1000),
                TimeUnit::Nanosecond => {
                    array.as_primitive::<TimestampNanosecondType>().value(row).div_euclid(1_000_000)
                }
            };
            match tz {
                Some(_) => format!("{} UTC", format_timestamp_millis(millis)),
                None => format_timestamp_millis(millis),
            }
        }
        DataType::List(_) => {
            let values = array.as_list::<i32>().value(row);
            let items: Vec<String> =
                (0..values.len()).map(|i| render(values.as_ref(), i).unwrap_or_else(|| "null".into())).collect();
            format!("[{}]", items.join(", "))
        }
        DataType::Map(_, _) => {
            let entries = array.as_map().value(row);
            let (keys, values) = (entries.column(0), entries.column(1));
            let items: Vec<String> = (0..entries.len())
                .map(|i| {
                    let key = render(keys.as_ref(), i).unwrap_or_else(|| "null".into());
                    let value = render(values.as_ref(), i).unwrap_or_else(|| "null".into());
                    format!("{key}={value}")
                })
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        DataType::Struct(fields) => {
            let columns = array.as_struct();
            let items: Vec<String> = fields
                .iter()
                .enumerate()
                .map(|(i, field)| {
                    let value = render(columns.column(i).as_ref(), row).unwrap_or_else(|| "null".into());
                    format!("{}={value}", field.name())
                })
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        _ => {
            let formatter = ArrayFormatter::try_new(array, &FormatOptions::default()).ok()?;
            formatter.value(row).to_string()
        }
    })
}

fn hex_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

/// Writes one CSV row of Athena's result dialect: every non-NULL value double-quoted (`"`
/// doubled inside), NULL as an empty unquoted field, `\n` at the end.
pub fn write_csv_row(out: &mut String, values: &[Option<String>]) {
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if let Some(text) = value {
            out.push('"');
            out.push_str(&text.replace('"', "\"\""));
            out.push('"');
        }
    }
    out.push('\n');
}

/// Reads the rows of a CSV written by [`write_csv_row`], keeping NULL (unquoted empty) apart
/// from the empty string (`""`).
pub fn read_csv_rows(text: &str) -> Vec<Vec<Option<String>>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut chars = text.chars().peekable();
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        match c {
            '"' if at_field_start => {
                let mut value = String::new();
                while let Some(c) = chars.next() {
                    if c == '"' {
                        if chars.peek() == Some(&'"') {
                            chars.next();
                            value.push('"');
                        } else {
                            break;
                        }
                    } else {
                        value.push(c);
                    }
                }
                row.push(Some(value));
                at_field_start = false;
            }
            ',' => {
                if at_field_start {
                    row.push(None);
                }
                at_field_start = true;
            }
            '\n' => {
                if at_field_start {
                    row.push(None);
                }
                rows.push(std::mem::take(&mut row));
                at_field_start = true;
            }
            _ => at_field_start = false,
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_as_java_prints_them() {
        for (value, text) in
            [(1.0, "1.0"), (0.25, "0.25"), (1e10, "1.0E10"), (1.5e-5, "1.5E-5"), (1234567.0, "1234567.0")]
        {
            assert_eq!(format_double(value, &value.to_string()), text);
        }
    }

    #[test]
    fn dates_decimals_and_csv() {
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(format_date(20_000), "2024-10-04");
        assert_eq!(format_timestamp_millis(1_500), "1970-01-01 00:00:01.500");
        assert_eq!(format_decimal(-5, 2), "-0.05");
        assert_eq!(format_decimal(12345, 2), "123.45");
        let mut csv = String::new();
        write_csv_row(&mut csv, &[Some("a\"b".into()), None, Some(String::new()), Some("1".into())]);
        assert_eq!(csv, "\"a\"\"b\",,\"\",\"1\"\n");
        assert_eq!(read_csv_rows(&csv), vec![vec![Some("a\"b".into()), None, Some(String::new()), Some("1".into())]]);
        assert_eq!(read_csv_rows(",\n"), vec![vec![None, None]]);
    }
}
