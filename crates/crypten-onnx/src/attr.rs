//! A node's attributes, with ONNX's defaults for the absent ones.

use crate::proto::{AttributeProto, TensorProto};

/// The attributes of one node.
pub(crate) struct Attrs<'a>(pub(crate) &'a [AttributeProto]);

impl<'a> Attrs<'a> {
    fn find(&self, name: &str) -> Option<&'a AttributeProto> {
        self.0.iter().find(|a| a.name.as_deref() == Some(name))
    }

    /// Whether the attribute is present.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    pub(crate) fn int(&self, name: &str, default: i64) -> i64 {
        self.find(name).and_then(|a| a.i).unwrap_or(default)
    }

    pub(crate) fn float(&self, name: &str, default: f64) -> f64 {
        self.find(name).and_then(|a| a.f).map_or(default, f64::from)
    }

    pub(crate) fn opt_float(&self, name: &str) -> Option<f64> {
        self.find(name).and_then(|a| a.f).map(f64::from)
    }

    pub(crate) fn ints(&self, name: &str) -> Option<Vec<i64>> {
        self.find(name).map(|a| a.ints.clone())
    }

    pub(crate) fn floats(&self, name: &str) -> Option<Vec<f32>> {
        self.find(name).map(|a| a.floats.clone())
    }

    pub(crate) fn string(&self, name: &str) -> Option<String> {
        self.find(name)
            .and_then(|a| a.s.as_ref())
            .map(|s| String::from_utf8_lossy(s).into_owned())
    }

    pub(crate) fn tensor(&self, name: &str) -> Option<&'a TensorProto> {
        self.find(name).and_then(|a| a.t.as_ref())
    }

    /// The names of all attributes, for checking against what an op understands.
    pub(crate) fn names(&self) -> impl Iterator<Item = &'a str> {
        self.0.iter().filter_map(|a| a.name.as_deref())
    }
}
