//! Parameters, sweep specs and the points they expand to.

use std::iter::FusedIterator;
use std::str::FromStr;

use serde_json::{Map, Value};

use super::SweepError;

/// Most values one `@range(...)` may give: the values are held in memory, and a sweep that
/// large is better listed in a points file.
pub const MAX_RANGE_VALUES: usize = 1_000_000;

/// One swept parameter: a name and the values it takes, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// An identifier (`[A-Za-z_][A-Za-z0-9_]*`), so `{name}` can stand for it in a command.
    pub name: String,
    /// Its values, in sweep order; never empty in a valid spec.
    pub values: Vec<Value>,
}

impl Param {
    /// A parameter from a name and values, unchecked: [`SweepSpec::len`] checks it.
    pub fn new(name: impl Into<String>, values: Vec<Value>) -> Param {
        Param {
            name: name.into(),
            values,
        }
    }

    /// Parses the CLI form `name=v1,v2,v3` or `name=@range(start,stop[,step])`.
    ///
    /// Each value (trimmed of spaces) that parses as a JSON scalar (number, `true`, `false`,
    /// `null`, or a `"quoted string"`) is that value; anything else is the text as written.
    /// So `lr=1e-3,0.01` gives two numbers (written back in JSON's form: `0.001`, `0.01`),
    /// `seed=01,02` two strings (JSON numbers have no leading zeros), `tag="a,b",c` the
    /// strings `a,b` and `c`: commas inside double quotes do not split. Lists and objects are
    /// not values here; give such points in a file ([`super::load_points`]).
    ///
    /// `@range(start,stop[,step])` is Python's `range` over integers: from `start` up to but
    /// not including `stop`, by `step` (default 1, may be negative, not 0), at most
    /// [`MAX_RANGE_VALUES`] values.
    pub fn parse(text: &str) -> Result<Param, SweepError> {
        let bad = |why: String| SweepError::BadParam {
            param: text.to_owned(),
            why,
        };
        let Some((name, values)) = text.split_once('=') else {
            return Err(bad(
                "no `=` (hint: write `name=v1,v2,...` or `name=@range(start,stop[,step])`)".into(),
            ));
        };
        let name = name.trim();
        check_name(name).map_err(bad)?;
        let values = values.trim();
        let values = match values.strip_prefix("@range(") {
            Some(args) => {
                let args = args.strip_suffix(')').ok_or_else(|| {
                    bad("`@range(` is not closed (hint: `@range(start,stop[,step])`)".into())
                })?;
                range(args).map_err(bad)?
            }
            None => split_values(values)
                .enumerate()
                .map(|(i, v)| match v.trim() {
                    "" => Err(bad(format!(
                        "value {} is empty (hint: write an empty string as \"\")",
                        i + 1
                    ))),
                    v => Ok(scalar(v)),
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(Param::new(name, values))
    }
}

impl FromStr for Param {
    type Err = SweepError;

    fn from_str(text: &str) -> Result<Param, SweepError> {
        Param::parse(text)
    }
}

/// True when `name` may name a parameter: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_param_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `Err(why)` when `name` is not a parameter name.
pub(super) fn check_name(name: &str) -> Result<(), String> {
    if is_param_name(name) {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a parameter name (hint: use letters, digits and `_`, not starting \
             with a digit, so that `{{name}}` can stand for it)"
        ))
    }
}

/// `text` as a JSON scalar when it is one, else as a string.
fn scalar(text: &str) -> Value {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Number(_)) => number(text).unwrap_or_else(|| Value::String(text.to_owned())),
        Ok(v @ (Value::Null | Value::Bool(_) | Value::String(_))) => v,
        _ => Value::String(text.to_owned()),
    }
}

/// `text` as a JSON number when it is one that keeps its value: an integer beyond 64 bits
/// would become an approximate float (a long id losing its last digits), so it stays text.
pub(super) fn number(text: &str) -> Option<Value> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Number(n)) if n.is_i64() || n.is_u64() || text.contains(['.', 'e', 'E']) => {
            Some(Value::Number(n))
        }
        _ => None,
    }
}

/// `text` split at the commas outside double-quoted strings.
fn split_values(text: &str) -> impl Iterator<Item = &str> {
    let (mut quoted, mut escaped, mut start) = (false, false, 0);
    let mut cuts = Vec::new();
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                cuts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    cuts.push(&text[start..]);
    cuts.into_iter()
}

/// The values of `@range(args)`.
fn range(args: &str) -> Result<Vec<Value>, String> {
    let hint = "(hint: `@range(start,stop[,step])` with integers, like Python's range)";
    let nums = args
        .split(',')
        .map(|a| a.trim().parse::<i64>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| format!("`@range({args})` takes integers {hint}"))?;
    let (start, stop, step) = match nums[..] {
        [start, stop] => (start, stop, 1),
        [start, stop, step] => (start, stop, step),
        _ => return Err(format!("`@range({args})` takes 2 or 3 numbers {hint}")),
    };
    if step == 0 {
        return Err(format!("`@range({args})` has a step of 0 {hint}"));
    }
    let (start, stop, step) = (i128::from(start), i128::from(stop), i128::from(step));
    // Python's len(range(...)): ceil((stop - start) / step), or 0.
    let count = if step > 0 {
        (stop - start + step - 1).div_euclid(step)
    } else {
        (start - stop - step - 1).div_euclid(-step)
    };
    if count <= 0 {
        return Err(format!(
            "`@range({args})` gives no values (hint: start below stop, or above it with a \
             negative step)"
        ));
    }
    if count > MAX_RANGE_VALUES as i128 {
        return Err(format!(
            "`@range({args})` gives {count} values, more than {MAX_RANGE_VALUES} (hint: sweep \
             fewer, or list the points in a file)"
        ));
    }
    // Every value lies between start and stop, so it fits in an i64.
    Ok((0..count)
        .map(|k| Value::from((start + k * step) as i64))
        .collect())
}

/// One point of a sweep: parameter values by name, in the order of the spec (or of the file),
/// and its index (from 0) in the sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    index: usize,
    params: Map<String, Value>,
}

impl Point {
    /// A point with the values `params`, at `index` in its sweep.
    pub fn new(index: usize, params: Map<String, Value>) -> Point {
        Point { index, params }
    }

    /// Its index in the sweep, from 0: its place in the order of [`SweepSpec::points`].
    pub fn index(&self) -> usize {
        self.index
    }

    /// Its values by name, in order.
    pub fn params(&self) -> &Map<String, Value> {
        &self.params
    }

    /// The value of parameter `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.params.get(name)
    }

    /// Its parameter names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.params.keys().map(String::as_str)
    }

    /// The JSON object of its values, in order: a task's `args` (`xpr_args.json`).
    pub fn to_args(&self) -> Value {
        Value::Object(self.params.clone())
    }
}

/// How a sweep's points are made; see the [module docs](super) for the rules.
#[derive(Clone, Debug, PartialEq)]
pub enum SweepSpec {
    /// Every combination of the parameters' values, the last parameter varying fastest.
    Grid(Vec<Param>),
    /// The i-th values of all parameters together; all have the same number of values.
    Zip(Vec<Param>),
    /// Points as listed; the iterator gives each its position as index, whatever it held.
    Points(Vec<Point>),
}

impl SweepSpec {
    /// The number of points, counted without making them; an error when the spec is invalid
    /// (see the [module docs](super)). A valid spec has at least one point.
    #[expect(
        clippy::len_without_is_empty,
        reason = "a valid spec is never empty: no spec, no parameter may be empty"
    )]
    pub fn len(&self) -> Result<usize, SweepError> {
        match self {
            SweepSpec::Grid(params) => {
                check_params(params)?;
                params
                    .iter()
                    .try_fold(1usize, |n, p| n.checked_mul(p.values.len()))
                    .ok_or_else(|| SweepError::TooManyPoints {
                        params: params
                            .iter()
                            .map(|p| format!("{} ({} values)", p.name, p.values.len()))
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
            }
            SweepSpec::Zip(params) => {
                check_params(params)?;
                let n = params[0].values.len();
                if params.iter().any(|p| p.values.len() != n) {
                    return Err(SweepError::ZipLengths {
                        lengths: params
                            .iter()
                            .map(|p| (p.name.clone(), p.values.len()))
                            .collect(),
                    });
                }
                Ok(n)
            }
            SweepSpec::Points(points) => {
                if points.is_empty() {
                    return Err(SweepError::Empty { what: "points" });
                }
                for (index, point) in points.iter().enumerate() {
                    let bad = |why| SweepError::BadPoint { index, why };
                    if point.params.is_empty() {
                        return Err(bad("it has no parameters (hint: every point names at \
                                        least one parameter)"
                            .into()));
                    }
                    for name in point.names() {
                        check_name(name).map_err(bad)?;
                    }
                }
                Ok(points.len())
            }
        }
    }

    /// Its points, made one at a time in sweep order; an error when the spec is invalid.
    pub fn points(&self) -> Result<PointIter<'_>, SweepError> {
        Ok(PointIter {
            spec: self,
            next: 0,
            len: self.len()?,
        })
    }

    /// The point at `index` of a valid spec, `index` below its length.
    fn point(&self, index: usize) -> Point {
        let params = match self {
            SweepSpec::Grid(params) => {
                // `index` in a mixed radix, the last parameter's digit the lowest.
                let mut digits = vec![0; params.len()];
                let mut rest = index;
                for (digit, p) in digits.iter_mut().zip(params).rev() {
                    *digit = rest % p.values.len();
                    rest /= p.values.len();
                }
                params
                    .iter()
                    .zip(digits)
                    .map(|(p, d)| (p.name.clone(), p.values[d].clone()))
                    .collect()
            }
            SweepSpec::Zip(params) => params
                .iter()
                .map(|p| (p.name.clone(), p.values[index].clone()))
                .collect(),
            SweepSpec::Points(points) => points[index].params.clone(),
        };
        Point { index, params }
    }
}

/// Checks a grid's or zip's parameters: at least one, each named, with values, no name twice.
fn check_params(params: &[Param]) -> Result<(), SweepError> {
    if params.is_empty() {
        return Err(SweepError::Empty { what: "parameters" });
    }
    for (i, p) in params.iter().enumerate() {
        check_name(&p.name).map_err(|why| SweepError::BadParam {
            param: p.name.clone(),
            why,
        })?;
        if p.values.is_empty() {
            return Err(SweepError::BadParam {
                param: p.name.clone(),
                why: "it has no values (hint: give at least one: `name=v1,v2`)".into(),
            });
        }
        if params[..i].iter().any(|q| q.name == p.name) {
            return Err(SweepError::DuplicateParam {
                name: p.name.clone(),
            });
        }
    }
    Ok(())
}

/// The points of a [`SweepSpec`], made one at a time ([`SweepSpec::points`]).
#[derive(Clone, Debug)]
pub struct PointIter<'a> {
    spec: &'a SweepSpec,
    next: usize,
    len: usize,
}

impl Iterator for PointIter<'_> {
    type Item = Point;

    fn next(&mut self) -> Option<Point> {
        (self.next < self.len).then(|| {
            self.next += 1;
            self.spec.point(self.next - 1)
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.len - self.next;
        (left, Some(left))
    }

    fn nth(&mut self, n: usize) -> Option<Point> {
        self.next = self.next.saturating_add(n).min(self.len);
        self.next()
    }
}

impl ExactSizeIterator for PointIter<'_> {}

impl FusedIterator for PointIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values(text: &str) -> Vec<Value> {
        Param::parse(text).unwrap().values
    }

    #[test]
    fn cli_values_are_json_scalars_or_text() {
        assert_eq!(
            values(r#"x=1, 2.5,1e-3,true,null,abc,"a,b",01"#),
            [
                json!(1),
                json!(2.5),
                json!(0.001),
                json!(true),
                json!(null),
                json!("abc"),
                json!("a,b"),
                json!("01")
            ]
        );
        assert_eq!(values("x=[1"), [json!("[1")]);
        assert_eq!(
            values("id=123456789012345678901"),
            [json!("123456789012345678901")]
        );
    }

    #[test]
    fn ranges_are_pythons() {
        assert_eq!(values("i=@range(0,3)"), [json!(0), json!(1), json!(2)]);
        assert_eq!(values("i=@range(1, 8, 3)"), [json!(1), json!(4), json!(7)]);
        assert_eq!(values("i=@range(3,0,-1)"), [json!(3), json!(2), json!(1)]);
        assert_eq!(values("i=@range(3,-3,-3)"), [json!(3), json!(0)]);
        let big = i64::MAX;
        assert_eq!(
            values(&format!("i=@range({},{big})", big - 1)),
            [json!(big - 1)]
        );
        for (text, says) in [
            ("i=@range(0,0)", "gives no values"),
            ("i=@range(0,3,0)", "step of 0"),
            ("i=@range(0)", "2 or 3 numbers"),
            ("i=@range(0,a)", "takes integers"),
            ("i=@range(0,3", "not closed"),
            ("i=@range(0,2000000)", "more than 1000000"),
        ] {
            let err = Param::parse(text).unwrap_err().to_string();
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn bad_cli_forms_name_the_fault() {
        for (text, says) in [
            ("lr", "no `=`"),
            ("1lr=1", "\"1lr\" is not a parameter name"),
            ("l-r=1", "\"l-r\" is not a parameter name"),
            ("lr=1,,2", "value 2 is empty"),
            ("lr=", "value 1 is empty"),
        ] {
            let err = Param::parse(text).unwrap_err().to_string();
            assert!(err.contains(says), "{text}: {err}");
            assert!(err.contains("hint:"), "{text}: {err}");
        }
    }

    #[test]
    fn nth_skips_without_making_points() {
        let spec = SweepSpec::Grid(vec![
            Param::parse("a=@range(0,10)").unwrap(),
            Param::parse("b=@range(0,10)").unwrap(),
        ]);
        let mut points = spec.points().unwrap();
        let p = points.nth(57).unwrap();
        assert_eq!((p.index(), p.to_args()), (57, json!({"a": 5, "b": 7})));
        assert_eq!(points.len(), 42);
        assert!(points.nth(100).is_none());
        assert!(points.next().is_none());
    }
}
