//! Bringing a model and its inputs into a computation: the model owner sends the public spec
//! and shares the weights; the data owner shares the inputs. Shapes are public; values are not.

use super::{Encoding, Graph, GraphSpec};
use crate::{Error, Module, Result};
use crypten_autograd::{Tensor, Variable};
use crypten_mpc::{CrypTensor, Session};
use ndarray::{ArrayD, IxDyn};

/// The largest tensor a peer may announce (elements), and the largest rank: a bound on what a
/// malformed or hostile message can make this party allocate.
const MAX_ELEMENTS: u64 = 1 << 32;
const MAX_RANK: usize = 16;

fn comm_error(e: crypten_mpc::Error) -> Error {
    Error::Mpc(e)
}

impl Graph {
    /// Every party calls this together. The model owner passes its graph (with plaintext
    /// weights); every other party passes `None` and receives the public spec from the owner
    /// (one message). The weights are then shared from the owner: no party but the owner
    /// learns them.
    ///
    /// # Errors
    /// `Graph` when `owner` is out of range, when the owner has no graph or another party
    /// passes one, or for a malformed spec from the owner; communication failures.
    pub fn share_from(sess: &Session, owner: usize, graph: Option<Graph>) -> Result<Graph> {
        if owner >= sess.parties() {
            return Err(Error::Graph(format!(
                "the model owner {owner} is not a party of {}",
                sess.parties()
            )));
        }
        let graph = match (sess.rank() == owner, graph) {
            (true, Some(g)) => {
                let bytes = g.spec().to_bytes()?;
                for peer in sess.peers() {
                    sess.comm()
                        .send(peer, "model.spec", bytes.clone())
                        .map_err(|e| comm_error(e.into()))?;
                }
                g
            }
            (false, None) => {
                let bytes = sess
                    .comm()
                    .recv(owner, "model.spec")
                    .map_err(|e| comm_error(e.into()))?;
                let spec = GraphSpec::from_bytes(&bytes)
                    .map_err(|e| Error::Graph(format!("the model from party {owner}: {e}")))?;
                Graph::from_spec(spec)?
            }
            (true, None) => return Err(Error::Graph("the model owner has no model".into())),
            (false, Some(_)) => {
                return Err(Error::Graph(format!(
                    "party {} holds a model but the owner is party {owner}",
                    sess.rank()
                )));
            }
        };
        graph.encrypt(sess, owner)?;
        Ok(graph)
    }

    /// Every party calls this together: the data owner passes one array per graph input
    /// (the ids, for a one-hot input), the others `None`. The data owner checks its data
    /// against the graph, encodes it (one-hot ids) and announces the shapes (public); then
    /// every input is shared from it.
    ///
    /// # Errors
    /// `Graph` for data that does not fit the graph (at the data owner) or an announcement
    /// that does not (elsewhere); encoding errors (NaN, infinity, out of range);
    /// communication failures.
    pub fn share_inputs(
        &self,
        sess: &Session,
        owner: usize,
        data: Option<Vec<ArrayD<f64>>>,
    ) -> Result<Vec<Variable>> {
        let spec = self.spec();
        if owner >= sess.parties() {
            return Err(Error::Graph(format!(
                "the data owner {owner} is not a party of {}",
                sess.parties()
            )));
        }
        let encoded: Option<Vec<ArrayD<f64>>> = match (sess.rank() == owner, data) {
            (true, Some(d)) => {
                let encoded = spec.encode_inputs(d)?;
                spec.check_values(&encoded, sess.encoder().max_abs())?;
                Some(encoded)
            }
            (false, None) => None,
            (true, None) => return Err(Error::Graph("the data owner has no data".into())),
            (false, Some(_)) => {
                return Err(Error::Graph(format!(
                    "party {} holds input data but the data owner is party {owner}",
                    sess.rank()
                )));
            }
        };
        let shapes: Vec<Vec<usize>> = match &encoded {
            Some(arrays) => {
                let shapes: Vec<Vec<usize>> = arrays.iter().map(|a| a.shape().to_vec()).collect();
                let words = shape_words(&shapes);
                for peer in sess.peers() {
                    sess.comm()
                        .send_u64(peer, "input.shapes", &words)
                        .map_err(|e| comm_error(e.into()))?;
                }
                shapes
            }
            None => {
                let bytes = sess
                    .comm()
                    .recv(owner, "input.shapes")
                    .map_err(|e| comm_error(e.into()))?;
                let shapes = parse_shapes(&bytes).ok_or_else(|| {
                    Error::Graph(format!("malformed input shapes from party {owner}"))
                })?;
                if shapes.len() != spec.inputs.len() {
                    return Err(Error::Graph(format!(
                        "party {owner} announced {} inputs, the graph has {}",
                        shapes.len(),
                        spec.inputs.len()
                    )));
                }
                for (input, shape) in spec.inputs.iter().zip(&shapes) {
                    input.check_shape(shape).map_err(|e| {
                        Error::Graph(format!("party {owner} announced a bad shape: {e}"))
                    })?;
                }
                shapes
            }
        };
        shapes
            .iter()
            .enumerate()
            .map(|(i, shape)| {
                let zeros;
                let array = match &encoded {
                    Some(arrays) => &arrays[i],
                    None => {
                        zeros = ArrayD::zeros(IxDyn(shape));
                        &zeros
                    }
                };
                Ok(Variable::constant(Tensor::Encrypted(
                    CrypTensor::from_array(sess, array, owner)?,
                )))
            })
            .collect()
    }
}

impl GraphSpec {
    /// Checks a data owner's arrays (one per input; the ids for a one-hot input) against the
    /// graph's inputs and encodes them as the graph reads them.
    ///
    /// # Errors
    /// `Graph` naming the input whose data does not fit.
    pub fn encode_inputs(&self, data: Vec<ArrayD<f64>>) -> Result<Vec<ArrayD<f64>>> {
        let spec = self;
        if data.len() != spec.inputs.len() {
            return Err(Error::Graph(format!(
                "the model takes {} inputs ({}), got {}",
                spec.inputs.len(),
                spec.inputs
                    .iter()
                    .map(|i| i.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                data.len()
            )));
        }
        spec.inputs
            .iter()
            .zip(data)
            .map(|(input, array)| {
                input.check_data_shape(array.shape())?;
                match input.encoding {
                    Encoding::Values => Ok(array),
                    Encoding::OneHot { classes } => {
                        let ids = array
                            .iter()
                            .map(|&v| {
                                if v.fract() == 0.0 && v >= 0.0 && v < classes as f64 {
                                    Ok(v as usize)
                                } else {
                                    Err(Error::Graph(format!(
                                        "input {} holds ids in 0..{classes}, got {v}",
                                        input.name
                                    )))
                                }
                            })
                            .collect::<Result<Vec<_>>>()?;
                        let flat = crate::one_hot(&ids, classes)?;
                        let mut shape = array.shape().to_vec();
                        shape.push(classes);
                        flat.into_shape_with_order(IxDyn(&shape))
                            .map_err(|e| Error::Graph(e.to_string()))
                    }
                }
            })
            .collect()
    }
}

impl GraphSpec {
    /// Checks encoded inputs against the fixed-point range (`|x| < max_abs`, finite) without
    /// ever naming a value: the message may travel to the other parties as the reason of an
    /// abort, and the values are private.
    ///
    /// # Errors
    /// `Graph` naming the input and the position of the first bad element.
    pub fn check_values(&self, encoded: &[ArrayD<f64>], max_abs: f64) -> Result<()> {
        for (input, array) in self.inputs.iter().zip(encoded) {
            if let Some(at) = array
                .iter()
                .position(|v| !v.is_finite() || v.abs() >= max_abs)
            {
                return Err(Error::Graph(format!(
                    "input {}: element {at} (row-major) is NaN, infinite or beyond the \
                     fixed-point range (magnitude below {max_abs:e}); the value itself is \
                     private and not shown",
                    input.name
                )));
            }
        }
        Ok(())
    }
}

/// `[count, rank_0, dims_0..., rank_1, dims_1...]`.
fn shape_words(shapes: &[Vec<usize>]) -> Vec<u64> {
    let mut w = vec![shapes.len() as u64];
    for s in shapes {
        w.push(s.len() as u64);
        w.extend(s.iter().map(|&d| d as u64));
    }
    w
}

fn parse_shapes(bytes: &[u8]) -> Option<Vec<Vec<usize>>> {
    if !bytes.len().is_multiple_of(8) {
        return None;
    }
    let words: Vec<u64> = bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
        .collect();
    let mut it = words.into_iter();
    let count = usize::try_from(it.next()?).ok()?;
    if count > 1024 {
        return None;
    }
    let mut shapes = Vec::with_capacity(count);
    for _ in 0..count {
        let rank = usize::try_from(it.next()?).ok()?;
        if rank > MAX_RANK {
            return None;
        }
        let dims: Vec<u64> = (0..rank).map(|_| it.next()).collect::<Option<_>>()?;
        let total = dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d))?;
        if total > MAX_ELEMENTS {
            return None;
        }
        shapes.push(dims.iter().map(|&d| d as usize).collect());
    }
    it.next().is_none().then_some(shapes)
}

#[cfg(test)]
mod tests {
    use super::{parse_shapes, shape_words};

    #[test]
    fn shape_announcements_round_trip_and_reject_garbage() {
        let shapes = vec![vec![2, 3], vec![], vec![1, 1, 4]];
        let bytes: Vec<u8> = shape_words(&shapes)
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        assert_eq!(parse_shapes(&bytes), Some(shapes));
        assert_eq!(parse_shapes(&bytes[..bytes.len() - 8]), None);
        assert_eq!(parse_shapes(&bytes[..5]), None);
        let huge: Vec<u8> = [1u64, 2, 1 << 20, 1 << 20]
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        assert_eq!(parse_shapes(&huge), None);
    }
}
