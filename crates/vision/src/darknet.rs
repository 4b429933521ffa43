//! Darknet networks (YOLOv4-tiny's `.cfg` and `.weights`) made into ONNX, once, at setup.
//!
//! The pinned YOLOv4-tiny ships as darknet files; the runtime reads ONNX. [`to_onnx`] reads the
//! network description and the weights and writes the same network as an ONNX model (opset 13):
//! each convolution with its batch normalisation folded into its weights and bias, then its
//! activation; routes as concatenations (or the slice of channels a grouped route takes);
//! max-pooling; nearest-neighbour upsampling. The YOLO layers are not part of the graph: the
//! model's outputs are the raw tensors in front of them, and [`Network::heads`] tells the
//! decoder their anchors, masks and scale.
//!
//! By hand: no crate converts darknet models, and the layers YOLOv4-tiny uses are few. The ONNX
//! messages are the subset of `onnx.proto` this needs, written with prost's derive.

use prost::Message;

/// Why a darknet network could not be read or converted.
#[derive(Debug, thiserror::Error)]
pub enum DarknetError {
    /// The `.cfg` text is not a network this converter knows.
    #[error("darknet cfg line {line}: {what}")]
    Cfg { line: usize, what: String },
    /// A layer refers to a layer that does not exist, or has a value out of range.
    #[error("darknet layer {layer} ({kind}): {what}")]
    Layer { layer: usize, kind: &'static str, what: String },
    /// The weights file does not hold the weights the cfg needs.
    #[error("darknet weights: {0}")]
    Weights(String),
}

/// A YOLO output the decoder reads: which output, its anchors (pixels of the network input),
/// its scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    /// The ONNX output's name.
    pub output: String,
    /// The anchors (width, height) this head predicts, in network input pixels.
    pub anchors: Vec<(f32, f32)>,
    pub classes: usize,
    /// `scale_x_y`: how far a box centre may reach beyond its cell.
    pub scale_x_y: f32,
}

#[derive(Debug, Clone, PartialEq)]
enum Layer {
    Conv { filters: usize, size: usize, stride: usize, pad: usize, batch_normalize: bool, activation: Activation },
    Route { layers: Vec<usize>, groups: usize, group_id: usize },
    MaxPool { size: usize, stride: usize },
    Upsample { stride: usize },
    Yolo { mask: Vec<usize>, anchors: Vec<(f32, f32)>, classes: usize, scale_x_y: f32 },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Activation {
    Leaky,
    Linear,
}

/// A darknet network description.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    pub width: usize,
    pub height: usize,
    pub channels: usize,
    layers: Vec<Layer>,
}

/// The most layers, filters and kernel size a network may have: far above YOLOv4-tiny's, far
/// below what would make the converter allocate without bound.
const MAX_LAYERS: usize = 512;
const MAX_FILTERS: usize = 4096;
const MAX_KERNEL: usize = 15;

fn int(line: usize, key: &str, v: &str) -> Result<usize, DarknetError> {
    v.trim().parse().map_err(|_| DarknetError::Cfg { line, what: format!("{key} = {v:?} is not a whole number") })
}

/// A `[section]` of a cfg: its line, its name, and its `key = value` lines (line, key, value).
type Section = (usize, String, Vec<(usize, String, String)>);

impl Network {
    /// Reads a `.cfg`.
    pub fn parse(cfg: &str) -> Result<Network, DarknetError> {
        let mut sections: Vec<Section> = Vec::new();
        for (n, raw) in cfg.lines().enumerate() {
            let line = n + 1;
            let text = raw.split(['#', ';']).next().unwrap_or("").trim();
            if text.is_empty() {
                continue;
            }
            if let Some(name) = text.strip_prefix('[') {
                let name = name
                    .strip_suffix(']')
                    .ok_or_else(|| DarknetError::Cfg { line, what: format!("{text:?} is not a [section]") })?;
                sections.push((line, name.trim().to_ascii_lowercase(), Vec::new()));
                continue;
            }
            let (key, value) = text
                .split_once('=')
                .ok_or_else(|| DarknetError::Cfg { line, what: format!("{text:?} is not key=value") })?;
            let section = sections
                .last_mut()
                .ok_or_else(|| DarknetError::Cfg { line, what: "a value before the first [section]".into() })?;
            section.2.push((line, key.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
        let mut sections = sections.into_iter();
        let (line, name, net) =
            sections.next().ok_or(DarknetError::Cfg { line: 1, what: "no [net] section".into() })?;
        if name != "net" && name != "network" {
            return Err(DarknetError::Cfg { line, what: format!("the first section is [{name}], not [net]") });
        }
        let get = |kvs: &[(usize, String, String)], key: &str| kvs.iter().find(|(_, k, _)| k == key).cloned();
        let num = |kvs: &[(usize, String, String)], key: &str, default: usize| -> Result<usize, DarknetError> {
            match get(kvs, key) {
                Some((line, k, v)) => int(line, &k, &v),
                None => Ok(default),
            }
        };
        let width = num(&net, "width", 416)?;
        let height = num(&net, "height", 416)?;
        let channels = num(&net, "channels", 3)?;
        if !(32..=4096).contains(&width)
            || !(32..=4096).contains(&height)
            || !width.is_multiple_of(32)
            || !height.is_multiple_of(32)
        {
            return Err(DarknetError::Cfg {
                line,
                what: format!("input {width}×{height} is not a multiple of 32 up to 4096"),
            });
        }
        if channels != 3 {
            return Err(DarknetError::Cfg { line, what: format!("{channels} input channels; only 3 (RGB)") });
        }
        let mut layers = Vec::new();
        for (line, name, kvs) in sections {
            let at = layers.len();
            if at >= MAX_LAYERS {
                return Err(DarknetError::Cfg { line, what: format!("more than {MAX_LAYERS} layers") });
            }
            let layer = match name.as_str() {
                "convolutional" | "conv" => {
                    let activation = match get(&kvs, "activation").map(|x| x.2).as_deref().unwrap_or("logistic") {
                        "leaky" => Activation::Leaky,
                        "linear" => Activation::Linear,
                        other => {
                            return Err(DarknetError::Cfg {
                                line,
                                what: format!("activation {other:?} is not leaky or linear"),
                            });
                        }
                    };
                    let size = num(&kvs, "size", 1)?;
                    let filters = num(&kvs, "filters", 1)?;
                    let stride = num(&kvs, "stride", 1)?;
                    if !(1..=MAX_KERNEL).contains(&size)
                        || !(1..=MAX_FILTERS).contains(&filters)
                        || !(1..=8).contains(&stride)
                    {
                        return Err(DarknetError::Cfg {
                            line,
                            what: format!("size {size}, filters {filters}, stride {stride}"),
                        });
                    }
                    if num(&kvs, "groups", 1)? != 1 {
                        return Err(DarknetError::Cfg { line, what: "grouped convolutions are not supported".into() });
                    }
                    let pad = if num(&kvs, "pad", 0)? == 1 { size / 2 } else { num(&kvs, "padding", 0)? };
                    Layer::Conv {
                        filters,
                        size,
                        stride,
                        pad,
                        batch_normalize: num(&kvs, "batch_normalize", 0)? == 1,
                        activation,
                    }
                }
                "route" => {
                    let (l, _, v) =
                        get(&kvs, "layers").ok_or(DarknetError::Cfg { line, what: "route without layers".into() })?;
                    let mut refs = Vec::new();
                    for part in v.split(',') {
                        let n: i64 = part
                            .trim()
                            .parse()
                            .map_err(|_| DarknetError::Cfg { line: l, what: format!("route layer {part:?}") })?;
                        let index = if n < 0 { at as i64 + n } else { n };
                        if index < 0 || index >= at as i64 {
                            return Err(DarknetError::Cfg {
                                line: l,
                                what: format!("route to layer {n} from layer {at}"),
                            });
                        }
                        refs.push(index as usize);
                    }
                    let groups = num(&kvs, "groups", 1)?;
                    let group_id = num(&kvs, "group_id", 0)?;
                    if groups == 0 || groups > 64 || group_id >= groups {
                        return Err(DarknetError::Cfg { line, what: format!("groups {groups}, group_id {group_id}") });
                    }
                    Layer::Route { layers: refs, groups, group_id }
                }
                "maxpool" => {
                    let size = num(&kvs, "size", 2)?;
                    let stride = num(&kvs, "stride", size)?;
                    if size != 2 || stride != 2 {
                        return Err(DarknetError::Cfg {
                            line,
                            what: format!("maxpool size {size} stride {stride}; only 2 and 2"),
                        });
                    }
                    Layer::MaxPool { size, stride }
                }
                "upsample" => {
                    let stride = num(&kvs, "stride", 2)?;
                    if !(1..=8).contains(&stride) {
                        return Err(DarknetError::Cfg { line, what: format!("upsample stride {stride}") });
                    }
                    Layer::Upsample { stride }
                }
                "yolo" => {
                    let list = |key: &str| -> Result<Vec<f32>, DarknetError> {
                        let Some((l, _, v)) = get(&kvs, key) else { return Ok(Vec::new()) };
                        v.split(',')
                            .filter(|p| !p.trim().is_empty())
                            .map(|p| {
                                p.trim()
                                    .parse::<f32>()
                                    .map_err(|_| DarknetError::Cfg { line: l, what: format!("{key}: {p:?}") })
                            })
                            .collect()
                    };
                    let anchors: Vec<(f32, f32)> = list("anchors")?.chunks_exact(2).map(|c| (c[0], c[1])).collect();
                    let mask: Vec<usize> = list("mask")?.into_iter().map(|m| m as usize).collect();
                    if mask.is_empty() || mask.iter().any(|&m| m >= anchors.len()) {
                        return Err(DarknetError::Cfg {
                            line,
                            what: format!("mask {mask:?} for {} anchors", anchors.len()),
                        });
                    }
                    let classes = num(&kvs, "classes", 80)?;
                    if !(1..=1000).contains(&classes) {
                        return Err(DarknetError::Cfg { line, what: format!("{classes} classes") });
                    }
                    let scale_x_y = match get(&kvs, "scale_x_y") {
                        Some((l, _, v)) => v
                            .parse::<f32>()
                            .ok()
                            .filter(|s| (1.0..=3.0).contains(s))
                            .ok_or(DarknetError::Cfg { line: l, what: format!("scale_x_y {v:?}") })?,
                        None => 1.0,
                    };
                    Layer::Yolo { mask, anchors, classes, scale_x_y }
                }
                other => return Err(DarknetError::Cfg { line, what: format!("layer [{other}] is not supported") }),
            };
            layers.push(layer);
        }
        let network = Network { width, height, channels, layers };
        network.shapes()?;
        Ok(network)
    }

    /// Each layer's output channels, and its stride from the input; checks the layers fit.
    fn shapes(&self) -> Result<Vec<(usize, usize)>, DarknetError> {
        let mut out: Vec<(usize, usize)> = Vec::with_capacity(self.layers.len());
        let mut prev = (self.channels, 1usize);
        for (i, layer) in self.layers.iter().enumerate() {
            let err = |kind: &'static str, what: String| DarknetError::Layer { layer: i, kind, what };
            let shape = match layer {
                Layer::Conv { filters, stride, .. } => (*filters, prev.1 * stride),
                Layer::Route { layers, groups, .. } => {
                    let strides: Vec<usize> = layers.iter().map(|&l| out[l].1).collect();
                    if strides.windows(2).any(|w| w[0] != w[1]) {
                        return Err(err("route", format!("joins layers of different sizes {layers:?}")));
                    }
                    let channels: usize = layers.iter().map(|&l| out[l].0).sum();
                    if !channels.is_multiple_of(*groups) {
                        return Err(err("route", format!("{channels} channels in {groups} groups")));
                    }
                    (channels / groups, strides[0])
                }
                Layer::MaxPool { stride, .. } => (prev.0, prev.1 * stride),
                Layer::Upsample { stride } => {
                    if !prev.1.is_multiple_of(*stride) {
                        return Err(err("upsample", format!("stride {stride} above the input's size")));
                    }
                    (prev.0, prev.1 / stride)
                }
                Layer::Yolo { mask, classes, .. } => {
                    if prev.0 != mask.len() * (classes + 5) {
                        return Err(err(
                            "yolo",
                            format!("{} channels in, {} expected", prev.0, mask.len() * (classes + 5)),
                        ));
                    }
                    prev
                }
            };
            if !self.width.is_multiple_of(shape.1) || !self.height.is_multiple_of(shape.1) {
                return Err(err("layer", format!("stride {} does not divide the input", shape.1)));
            }
            out.push(shape);
            prev = shape;
        }
        Ok(out)
    }

    /// The same network for another input size (a multiple of 32): darknet's layers do not
    /// depend on it, so a larger input finds smaller objects at a higher cost.
    pub fn with_input(mut self, width: usize, height: usize) -> Result<Network, DarknetError> {
        if !(32..=4096).contains(&width)
            || !(32..=4096).contains(&height)
            || !width.is_multiple_of(32)
            || !height.is_multiple_of(32)
        {
            return Err(DarknetError::Cfg {
                line: 0,
                what: format!("input {width}×{height} is not a multiple of 32 up to 4096"),
            });
        }
        (self.width, self.height) = (width, height);
        self.shapes()?;
        Ok(self)
    }

    /// The YOLO outputs, in the order the ONNX model gives them.
    pub fn heads(&self) -> Vec<Head> {
        self.layers
            .iter()
            .enumerate()
            .filter_map(|(i, l)| match l {
                Layer::Yolo { mask, anchors, classes, scale_x_y } => Some(Head {
                    output: format!("yolo_{i}"),
                    anchors: mask.iter().map(|&m| anchors[m]).collect(),
                    classes: *classes,
                    scale_x_y: *scale_x_y,
                }),
                _ => None,
            })
            .collect()
    }

    /// How many floats the weights of every convolution take.
    fn weight_count(&self) -> usize {
        let shapes = self.shapes().unwrap_or_default();
        let mut input = self.channels;
        let mut total = 0;
        for (i, layer) in self.layers.iter().enumerate() {
            if let Layer::Conv { filters, size, batch_normalize, .. } = layer {
                total += filters * (if *batch_normalize { 4 } else { 1 }) + filters * input * size * size;
            }
            input = shapes.get(i).map_or(input, |s| s.0);
        }
        total
    }
}

/// Reads `.weights` for `network` and writes the ONNX model.
pub fn to_onnx(network: &Network, weights: &[u8]) -> Result<Vec<u8>, DarknetError> {
    // The header: major, minor, revision (i32 each), then images seen (i64 from version 0.2 on).
    if weights.len() < 16 {
        return Err(DarknetError::Weights(format!("{} bytes: no header", weights.len())));
    }
    let word = |i: usize| i32::from_le_bytes([weights[i], weights[i + 1], weights[i + 2], weights[i + 3]]);
    let (major, minor) = (word(0), word(4));
    let header = if major * 10 + minor >= 2 && major < 1000 { 20 } else { 16 };
    let floats = &weights[header.min(weights.len())..];
    let needed = network.weight_count();
    if floats.len() != needed * 4 {
        return Err(DarknetError::Weights(format!(
            "{} bytes of weights where the network needs {} ({} floats)",
            floats.len(),
            needed * 4,
            needed
        )));
    }
    let mut reader = floats.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]));
    let mut take = |n: usize| -> Vec<f32> { reader.by_ref().take(n).collect() };

    let shapes = network.shapes()?;
    let mut g = Graph::default();
    let mut names: Vec<String> = Vec::with_capacity(network.layers.len());
    let mut prev = "input".to_owned();
    let mut input_channels = network.channels;
    for (i, layer) in network.layers.iter().enumerate() {
        let out = format!("l{i}");
        let name = match layer {
            Layer::Conv { filters, size, stride, pad, batch_normalize, activation } => {
                let (n, c, k) = (*filters, input_channels, *size);
                let mut bias = take(n);
                let (scales, mean, var) = if *batch_normalize {
                    (take(n), take(n), take(n))
                } else {
                    (vec![1.0; n], vec![0.0; n], vec![1.0; n])
                };
                let mut w = take(n * c * k * k);
                if *batch_normalize {
                    // Darknet normalises with (x − mean) / (√var + 1e-6), then scales and adds
                    // the bias: folded into the convolution.
                    for f in 0..n {
                        let factor = scales[f] / (var[f].max(0.0).sqrt() + 0.000_001);
                        for v in &mut w[f * c * k * k..(f + 1) * c * k * k] {
                            *v *= factor;
                        }
                        bias[f] -= mean[f] * factor;
                    }
                }
                let (wn, bn) = (format!("w{i}"), format!("b{i}"));
                g.float_tensor(&wn, &[n as i64, c as i64, k as i64, k as i64], &w);
                g.float_tensor(&bn, &[n as i64], &bias);
                let conv = if *activation == Activation::Linear { out.clone() } else { format!("c{i}") };
                let p = *pad as i64;
                g.node(
                    "Conv",
                    &[&prev, &wn, &bn],
                    &conv,
                    vec![
                        ints("kernel_shape", &[k as i64, k as i64]),
                        ints("strides", &[*stride as i64, *stride as i64]),
                        ints("pads", &[p, p, p, p]),
                    ],
                );
                if *activation == Activation::Leaky {
                    g.node("LeakyRelu", &[&conv], &out, vec![float("alpha", 0.1)]);
                }
                out
            }
            Layer::Route { layers, groups, group_id } => {
                let parts: Vec<&str> = layers.iter().map(|&l| names[l].as_str()).collect();
                let joined = if parts.len() == 1 {
                    parts[0].to_owned()
                } else {
                    let joined = format!("cat{i}");
                    g.node("Concat", &parts, &joined, vec![int_attr("axis", 1)]);
                    joined
                };
                if *groups == 1 {
                    if parts.len() == 1 {
                        // A plain route to one layer: its output is that layer's.
                        names.push(joined);
                        input_channels = shapes[i].0;
                        prev = names[i].clone();
                        continue;
                    }
                    g.node("Identity", &[&joined], &out, vec![]);
                } else {
                    let width = shapes[i].0 as i64;
                    let (s, e, a) = (format!("s{i}"), format!("e{i}"), format!("a{i}"));
                    g.int_tensor(&s, &[width * *group_id as i64]);
                    g.int_tensor(&e, &[width * (*group_id as i64 + 1)]);
                    g.int_tensor(&a, &[1]);
                    g.node("Slice", &[&joined, &s, &e, &a], &out, vec![]);
                }
                out
            }
            Layer::MaxPool { size, stride } => {
                g.node(
                    "MaxPool",
                    &[&prev],
                    &out,
                    vec![
                        ints("kernel_shape", &[*size as i64, *size as i64]),
                        ints("strides", &[*stride as i64, *stride as i64]),
                    ],
                );
                out
            }
            Layer::Upsample { stride } => {
                let scales = format!("scales{i}");
                g.float_tensor(&scales, &[4], &[1.0, 1.0, *stride as f32, *stride as f32]);
                g.node("Resize", &[&prev, "", &scales], &out, vec![string_attr("mode", "nearest")]);
                out
            }
            Layer::Yolo { .. } => {
                // The raw tensor in front of the YOLO layer is the output.
                let output = format!("yolo_{i}");
                g.node("Identity", &[&prev], &output, vec![]);
                g.outputs.push(output.clone());
                prev.clone()
            }
        };
        input_channels = shapes[i].0;
        prev = name.clone();
        names.push(name);
    }
    Ok(g.model(network))
}

// The subset of onnx.proto (ONNX IR 8) the converter writes. Field numbers are onnx.proto's;
// repeated numbers unpacked, as proto2 (which onnx.proto is) writes them.

#[derive(Clone, PartialEq, Message)]
struct ModelProto {
    #[prost(int64, tag = "1")]
    ir_version: i64,
    #[prost(string, tag = "2")]
    producer_name: String,
    #[prost(message, optional, tag = "7")]
    graph: Option<GraphProto>,
    #[prost(message, repeated, tag = "8")]
    opset_import: Vec<OperatorSetIdProto>,
}

#[derive(Clone, PartialEq, Message)]
struct OperatorSetIdProto {
    #[prost(string, tag = "1")]
    domain: String,
    #[prost(int64, tag = "2")]
    version: i64,
}

#[derive(Clone, PartialEq, Message)]
struct GraphProto {
    #[prost(message, repeated, tag = "1")]
    node: Vec<NodeProto>,
    #[prost(string, tag = "2")]
    name: String,
    #[prost(message, repeated, tag = "5")]
    initializer: Vec<TensorProto>,
    #[prost(message, repeated, tag = "11")]
    input: Vec<ValueInfoProto>,
    #[prost(message, repeated, tag = "12")]
    output: Vec<ValueInfoProto>,
}

#[derive(Clone, PartialEq, Message)]
struct NodeProto {
    #[prost(string, repeated, tag = "1")]
    input: Vec<String>,
    #[prost(string, repeated, tag = "2")]
    output: Vec<String>,
    #[prost(string, tag = "3")]
    name: String,
    #[prost(string, tag = "4")]
    op_type: String,
    #[prost(message, repeated, tag = "5")]
    attribute: Vec<AttributeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct AttributeProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(float, tag = "2")]
    f: f32,
    #[prost(int64, tag = "3")]
    i: i64,
    #[prost(bytes = "vec", tag = "4")]
    s: Vec<u8>,
    #[prost(int64, repeated, packed = "false", tag = "8")]
    ints: Vec<i64>,
    /// AttributeType: FLOAT 1, INT 2, STRING 3, INTS 7.
    #[prost(int32, tag = "20")]
    r#type: i32,
}

#[derive(Clone, PartialEq, Message)]
struct TensorProto {
    #[prost(int64, repeated, packed = "false", tag = "1")]
    dims: Vec<i64>,
    /// FLOAT 1, INT64 7.
    #[prost(int32, tag = "2")]
    data_type: i32,
    #[prost(string, tag = "8")]
    name: String,
    #[prost(bytes = "vec", tag = "9")]
    raw_data: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
struct ValueInfoProto {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, optional, tag = "2")]
    r#type: Option<TypeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TypeProto {
    #[prost(message, optional, tag = "1")]
    tensor_type: Option<TensorTypeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TensorTypeProto {
    #[prost(int32, tag = "1")]
    elem_type: i32,
    #[prost(message, optional, tag = "2")]
    shape: Option<TensorShapeProto>,
}

#[derive(Clone, PartialEq, Message)]
struct TensorShapeProto {
    #[prost(message, repeated, tag = "1")]
    dim: Vec<Dimension>,
}

#[derive(Clone, PartialEq, Message)]
struct Dimension {
    #[prost(int64, optional, tag = "1")]
    dim_value: Option<i64>,
    #[prost(string, optional, tag = "2")]
    dim_param: Option<String>,
}

fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto { name: name.into(), ints: v.to_vec(), r#type: 7, ..AttributeProto::default() }
}

fn int_attr(name: &str, v: i64) -> AttributeProto {
    AttributeProto { name: name.into(), i: v, r#type: 2, ..AttributeProto::default() }
}

fn float(name: &str, v: f32) -> AttributeProto {
    AttributeProto { name: name.into(), f: v, r#type: 1, ..AttributeProto::default() }
}

fn string_attr(name: &str, v: &str) -> AttributeProto {
    AttributeProto { name: name.into(), s: v.as_bytes().to_vec(), r#type: 3, ..AttributeProto::default() }
}

#[derive(Default)]
struct Graph {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    outputs: Vec<String>,
}

impl Graph {
    fn node(&mut self, op: &str, inputs: &[&str], output: &str, attribute: Vec<AttributeProto>) {
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| (*s).to_owned()).collect(),
            output: vec![output.to_owned()],
            name: format!("{op}_{output}"),
            op_type: op.into(),
            attribute,
        });
    }

    fn float_tensor(&mut self, name: &str, dims: &[i64], v: &[f32]) {
        let raw_data = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.initializers.push(TensorProto { dims: dims.to_vec(), data_type: 1, name: name.into(), raw_data });
    }

    fn int_tensor(&mut self, name: &str, v: &[i64]) {
        let raw_data = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        self.initializers.push(TensorProto { dims: vec![v.len() as i64], data_type: 7, name: name.into(), raw_data });
    }

    fn model(self, network: &Network) -> Vec<u8> {
        let dims = |d: &[Dimension]| {
            Some(TypeProto {
                tensor_type: Some(TensorTypeProto { elem_type: 1, shape: Some(TensorShapeProto { dim: d.to_vec() }) }),
            })
        };
        let value = |v: i64| Dimension { dim_value: Some(v), dim_param: None };
        let param = |p: &str| Dimension { dim_value: None, dim_param: Some(p.into()) };
        let input = ValueInfoProto {
            name: "input".into(),
            r#type: dims(&[
                value(1),
                value(network.channels as i64),
                value(network.height as i64),
                value(network.width as i64),
            ]),
        };
        let output = self
            .outputs
            .iter()
            .map(|o| ValueInfoProto { name: o.clone(), r#type: dims(&[value(1), param("c"), param("h"), param("w")]) })
            .collect();
        ModelProto {
            ir_version: 8,
            producer_name: "limes-vision darknet".into(),
            graph: Some(GraphProto {
                node: self.nodes,
                name: "darknet".into(),
                initializer: self.initializers,
                input: vec![input],
                output,
            }),
            opset_import: vec![OperatorSetIdProto { domain: String::new(), version: 13 }],
        }
        .encode_to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small network with every layer kind YOLOv4-tiny uses.
    const TINY: &str = "[net]\nwidth=64\nheight=64\nchannels=3\n\n\
        [convolutional]\nbatch_normalize=1\nfilters=4\nsize=3\nstride=2\npad=1\nactivation=leaky\n\n\
        [route]\nlayers=-1\ngroups=2\ngroup_id=1\n\n\
        [convolutional]\nfilters=4\nsize=1\nstride=1\npad=1\nactivation=leaky\n\n\
        [route]\nlayers = -1,-3\n\n\
        [maxpool]\nsize=2\nstride=2\n\n\
        [convolutional]\nsize=1\nstride=1\npad=1\nfilters=18\nactivation=linear\n\n\
        [yolo]\nmask = 0,1\nanchors = 10,14, 23,27, 37,58\nclasses=4\nnum=3\nscale_x_y = 1.05\n\n\
        [route]\nlayers = -3\n\n\
        [upsample]\nstride=2\n\n\
        [convolutional]\nsize=1\nstride=1\npad=1\nfilters=9\nactivation=linear\n\n\
        [yolo]\nmask = 2\nanchors = 10,14, 23,27, 37,58\nclasses=4\nnum=3\n";

    fn weights(network: &Network, seed: u32) -> Vec<u8> {
        let mut out = Vec::new();
        for v in [0i32, 2, 5] {
            out.extend(v.to_le_bytes());
        }
        out.extend(0i64.to_le_bytes());
        let mut x = seed;
        for _ in 0..network.weight_count() {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            // Variances must be positive: every value is.
            out.extend((((x >> 16) % 1000) as f32 / 1000.0 + 0.01).to_le_bytes());
        }
        out
    }

    #[test]
    fn a_network_becomes_an_onnx_graph_with_its_heads_as_outputs() {
        let network = Network::parse(TINY).unwrap();
        let heads = network.heads();
        assert_eq!(heads.len(), 2);
        assert_eq!(heads[0].anchors, vec![(10.0, 14.0), (23.0, 27.0)]);
        assert_eq!((heads[1].anchors.clone(), heads[1].scale_x_y), (vec![(37.0, 58.0)], 1.0));
        let bytes = to_onnx(&network, &weights(&network, 1)).unwrap();
        let model = ModelProto::decode(bytes.as_slice()).unwrap();
        let graph = model.graph.unwrap();
        let ops: Vec<&str> = graph.node.iter().map(|n| n.op_type.as_str()).collect();
        assert_eq!(
            ops,
            [
                "Conv",
                "LeakyRelu",
                "Slice",
                "Conv",
                "LeakyRelu",
                "Concat",
                "Identity",
                "MaxPool",
                "Conv",
                "Identity",
                "Resize",
                "Conv",
                "Identity"
            ]
        );
        let outputs: Vec<&str> = graph.output.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(outputs, [heads[0].output.as_str(), heads[1].output.as_str()]);
        // The folded first convolution: 4 filters of 3×3×3, and its bias.
        let w = graph.initializer.iter().find(|t| t.name == "w0").unwrap();
        assert_eq!((w.dims.clone(), w.raw_data.len()), (vec![4, 3, 3, 3], 4 * 27 * 4));
        assert_eq!(model.opset_import[0].version, 13);
        // The same weights give the same bytes.
        assert_eq!(bytes, to_onnx(&network, &weights(&network, 1)).unwrap());
        assert_ne!(bytes, to_onnx(&network, &weights(&network, 2)).unwrap());
        let bigger = network.clone().with_input(128, 96).unwrap();
        assert_eq!(bigger.height, 96);
        assert!(network.with_input(100, 64).is_err());
    }

    #[test]
    fn hostile_cfgs_and_weights_are_refused_with_the_reason() {
        let cases: &[(&str, &str)] = &[
            ("", "no [net]"),
            ("[convolutional]\nfilters=1", "not [net]"),
            ("width=416\n[net]", "before the first [section]"),
            ("[net\nwidth=416", "not a [section]"),
            ("[net]\nwidth=417", "multiple of 32"),
            ("[net]\nwidth=abc", "not a whole number"),
            ("[net]\nchannels=1", "only 3"),
            ("[net]\n[shortcut]\nfrom=-3", "not supported"),
            ("[net]\n[convolutional]\nfilters=0\nactivation=leaky", "filters 0"),
            ("[net]\n[convolutional]\nfilters=8\nsize=99\nactivation=leaky", "size 99"),
            ("[net]\n[convolutional]\nfilters=8\nactivation=mish", "not leaky or linear"),
            ("[net]\n[route]\nlayers=-1", "route to layer -1"),
            ("[net]\n[convolutional]\nfilters=8\nactivation=leaky\n[route]\nlayers=5", "route to layer 5"),
            (
                "[net]\n[convolutional]\nfilters=8\nactivation=leaky\n[route]\nlayers=-1\ngroups=3",
                "8 channels in 3 groups",
            ),
            ("[net]\n[maxpool]\nsize=3\nstride=1", "only 2 and 2"),
            ("[net]\n[convolutional]\nfilters=8\nactivation=linear\n[yolo]\nmask=0,7\nanchors=1,1", "mask"),
            (
                "[net]\n[convolutional]\nfilters=8\nactivation=linear\n[yolo]\nmask=0\nanchors=1,1\nclasses=4",
                "channels in",
            ),
            ("[net]\nwidth=64\nheight=64\n[upsample]\nstride=2", "stride 2 above"),
        ];
        for (cfg, needle) in cases {
            let e = Network::parse(cfg).unwrap_err().to_string();
            assert!(e.contains(needle), "{cfg:?}: {e}");
        }
        let network = Network::parse(TINY).unwrap();
        let good = weights(&network, 1);
        for bad in [&good[..10], &good[..good.len() - 4], &[good.clone(), vec![0; 4]].concat()[..]] {
            let e = to_onnx(&network, bad).unwrap_err().to_string();
            assert!(e.contains("weights"), "{e}");
        }
    }
}
