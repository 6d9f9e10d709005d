//! Saving and loading a module's parameters: in plaintext as `.safetensors` or a directory of
//! `.npy` files (interchangeable with numpy and PyTorch users' tooling), and as this party's
//! secret shares.
//!
//! Files are untrusted input: every name, shape, dtype and metadata field is checked against
//! the model, and a mismatch is an error naming the file and the parameter.

use crate::{Error, Module, Result};
use crypten_autograd::Tensor;
use crypten_core::RingTensor;
use crypten_mpc::{CrypTensor, Session};
use ndarray::{ArrayD, IxDyn};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use std::collections::HashMap;
use std::path::Path;

fn state_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::State {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The parameters' plaintext values by name. Encrypted parameters are revealed to every party
/// (one round each): every party must call it.
///
/// # Errors
/// Communication failures.
pub fn state_dict(module: &dyn Module) -> Result<Vec<(String, ArrayD<f64>)>> {
    module
        .named_parameters()
        .into_iter()
        .map(|(name, p)| Ok((name, p.value().to_plain()?)))
        .collect()
}

/// Loads plaintext values into the parameters. The names must be exactly the module's and the
/// shapes must match; parameters become plaintext (call `encrypt` afterwards to share them).
///
/// # Errors
/// `State` for a missing, unexpected or mis-shaped entry; NaN or infinite values.
pub fn load_state_dict(
    module: &dyn Module,
    state: &[(String, ArrayD<f64>)],
    origin: &Path,
) -> Result<()> {
    let mut by_name: HashMap<&str, &ArrayD<f64>> = HashMap::new();
    for (name, value) in state {
        if by_name.insert(name, value).is_some() {
            return Err(state_error(
                origin,
                format!("parameter `{name}` appears twice"),
            ));
        }
    }
    let params = module.named_parameters();
    for (name, p) in &params {
        let value = by_name
            .get(name.as_str())
            .ok_or_else(|| state_error(origin, format!("missing parameter `{name}`")))?;
        if value.shape() != p.shape() {
            return Err(state_error(
                origin,
                format!(
                    "`{name}` has shape {:?}, the model needs {:?}",
                    value.shape(),
                    p.shape()
                ),
            ));
        }
        if value.iter().any(|v| !v.is_finite()) {
            return Err(state_error(
                origin,
                format!("`{name}` holds NaN or infinite values"),
            ));
        }
    }
    if by_name.len() != params.len() {
        let known: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
        let extra: Vec<&&str> = by_name.keys().filter(|n| !known.contains(n)).collect();
        return Err(state_error(
            origin,
            format!("unexpected parameters {extra:?}"),
        ));
    }
    for (name, p) in params {
        p.set(Tensor::Plain(by_name[name.as_str()].clone()));
        p.zero_grad();
    }
    Ok(())
}

fn to_le_bytes_f64(values: &ArrayD<f64>) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn words<const N: usize, T>(bytes: &[u8], from: fn([u8; N]) -> T) -> Vec<T> {
    bytes
        .chunks_exact(N)
        .map(|c| from(c.try_into().expect("chunks of N bytes")))
        .collect()
}

/// Writes the plaintext parameters as a `.safetensors` file (F64). Encrypted parameters are
/// revealed first (every party must call it; each writes the same file).
///
/// # Errors
/// Communication or I/O failures.
pub fn save_safetensors(module: &dyn Module, path: &Path) -> Result<()> {
    let state = state_dict(module)?;
    let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = state
        .iter()
        .map(|(n, a)| (n.clone(), to_le_bytes_f64(a), a.shape().to_vec()))
        .collect();
    let views = bytes
        .iter()
        .map(|(n, b, s)| {
            Ok((
                n.as_str(),
                TensorView::new(Dtype::F64, s.clone(), b)
                    .map_err(|e| state_error(path, e.to_string()))?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let out = safetensors::serialize(views, None).map_err(|e| state_error(path, e.to_string()))?;
    std::fs::write(path, out).map_err(|e| io_error(path, e))
}

/// Loads plaintext parameters from a `.safetensors` file (F64 or F32).
///
/// # Errors
/// I/O failures; a malformed file; names, shapes or dtypes that do not fit the model.
pub fn load_safetensors(module: &dyn Module, path: &Path) -> Result<()> {
    let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
    let file = SafeTensors::deserialize(&bytes).map_err(|e| state_error(path, e.to_string()))?;
    let mut state = Vec::new();
    for (name, view) in file.tensors() {
        let values: Vec<f64> = match view.dtype() {
            Dtype::F64 => words(view.data(), f64::from_le_bytes),
            Dtype::F32 => words(view.data(), f32::from_le_bytes)
                .into_iter()
                .map(f64::from)
                .collect(),
            other => {
                return Err(state_error(
                    path,
                    format!("`{name}` has dtype {other:?}; plaintext state must be F32 or F64"),
                ));
            }
        };
        let array = ArrayD::from_shape_vec(IxDyn(view.shape()), values)
            .map_err(|e| state_error(path, e.to_string()))?;
        state.push((name, array));
    }
    load_state_dict(module, &state, path)
}

/// Writes each plaintext parameter as `<dir>/<name>.npy` (revealing encrypted ones first).
///
/// # Errors
/// Communication or I/O failures.
pub fn save_npy_dir(module: &dyn Module, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    for (name, array) in state_dict(module)? {
        let path = dir.join(format!("{name}.npy"));
        ndarray_npy::write_npy(&path, &array).map_err(|e| state_error(&path, e.to_string()))?;
    }
    Ok(())
}

/// Loads every parameter from `<dir>/<name>.npy` (f64 arrays).
///
/// # Errors
/// Missing files; malformed files; shapes that do not fit the model.
pub fn load_npy_dir(module: &dyn Module, dir: &Path) -> Result<()> {
    let mut state = Vec::new();
    for (name, _) in module.named_parameters() {
        let path = dir.join(format!("{name}.npy"));
        let array: ArrayD<f64> =
            ndarray_npy::read_npy(&path).map_err(|e| state_error(&path, e.to_string()))?;
        state.push((name, array));
    }
    load_state_dict(module, &state, dir)
}

/// Writes this party's shares of the encrypted parameters to `path` (see
/// [`save_tensor_shares`]). Each party writes its own file; no communication.
///
/// # Errors
/// A plaintext parameter (encrypt first); I/O failures.
pub fn save_shares(module: &dyn Module, sess: &Session, path: &Path) -> Result<()> {
    let mut tensors = Vec::new();
    for (name, p) in module.named_parameters() {
        let Tensor::Encrypted(c) = p.value() else {
            return Err(state_error(
                path,
                format!("`{name}` is not encrypted; shares exist only for encrypted parameters"),
            ));
        };
        tensors.push((name, c));
    }
    save_tensor_shares(&tensors, sess, path)
}

/// Loads this party's shares written by [`save_shares`] into the parameters (which become
/// encrypted). The file's rank, party count and precision must be this session's.
///
/// # Errors
/// I/O failures; a malformed file; metadata, names or shapes that do not fit.
pub fn load_shares(module: &dyn Module, sess: &Session, path: &Path) -> Result<()> {
    let mut loaded: HashMap<String, CrypTensor> =
        load_tensor_shares(sess, path)?.into_iter().collect();
    let params = module.named_parameters();
    if loaded.len() != params.len() {
        return Err(state_error(
            path,
            format!("{} tensors for {} parameters", loaded.len(), params.len()),
        ));
    }
    let mut values = Vec::with_capacity(params.len());
    for (name, p) in &params {
        let c = loaded
            .remove(name)
            .ok_or_else(|| state_error(path, format!("missing parameter `{name}`")))?;
        if c.shape() != p.shape() {
            return Err(state_error(
                path,
                format!(
                    "`{name}` is {:?}, the model needs {:?}",
                    c.shape(),
                    p.shape()
                ),
            ));
        }
        values.push(c);
    }
    for ((_, p), c) in params.iter().zip(values) {
        p.set(Tensor::Encrypted(c));
        p.zero_grad();
    }
    Ok(())
}

/// Writes this party's shares of named encrypted tensors to `path` as `.safetensors` (`U64`
/// words), with the rank, the party count and the precision as metadata. Each party writes its
/// own file; a deferred tensor is settled first (one round, every party must call it).
///
/// # Errors
/// Communication failures while settling; I/O failures.
pub fn save_tensor_shares(
    tensors: &[(String, CrypTensor)],
    sess: &Session,
    path: &Path,
) -> Result<()> {
    let settled = tensors
        .iter()
        .map(|(name, c)| Ok((name, c.settled()?)))
        .collect::<Result<Vec<_>>>()?;
    let mut entries = Vec::with_capacity(settled.len());
    for (name, c) in &settled {
        let bytes: Vec<u8> = c
            .share()?
            .data()
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .collect();
        entries.push((name.as_str(), bytes, c.shape().to_vec()));
    }
    let views = entries
        .iter()
        .map(|(n, b, s)| {
            Ok((
                *n,
                TensorView::new(Dtype::U64, s.clone(), b)
                    .map_err(|e| state_error(path, e.to_string()))?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let meta = HashMap::from([
        ("rank".to_string(), sess.rank().to_string()),
        ("parties".to_string(), sess.parties().to_string()),
        (
            "frac_bits".to_string(),
            sess.encoder().frac_bits().to_string(),
        ),
    ]);
    let out =
        safetensors::serialize(views, Some(meta)).map_err(|e| state_error(path, e.to_string()))?;
    std::fs::write(path, out).map_err(|e| io_error(path, e))
}

/// Reads this party's shares written by [`save_tensor_shares`] (or [`save_shares`]), sorted
/// by name. The file's rank, party count and precision must be this session's.
///
/// # Errors
/// I/O failures; a malformed file; metadata that does not fit; a tensor that is not `U64`.
pub fn load_tensor_shares(sess: &Session, path: &Path) -> Result<Vec<(String, CrypTensor)>> {
    let bytes = std::fs::read(path).map_err(|e| io_error(path, e))?;
    let (_, metadata) =
        SafeTensors::read_metadata(&bytes).map_err(|e| state_error(path, e.to_string()))?;
    let file = SafeTensors::deserialize(&bytes).map_err(|e| state_error(path, e.to_string()))?;
    let meta = metadata.metadata().clone().unwrap_or_default();
    for (key, want) in [
        ("rank", sess.rank().to_string()),
        ("parties", sess.parties().to_string()),
        ("frac_bits", sess.encoder().frac_bits().to_string()),
    ] {
        match meta.get(key) {
            Some(got) if *got == want => {}
            got => {
                return Err(state_error(
                    path,
                    format!("metadata `{key}` is {got:?}, this party needs {want}"),
                ));
            }
        }
    }
    let mut names: Vec<String> = file.names().into_iter().map(ToString::to_string).collect();
    names.sort();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let view = file
            .tensor(&name)
            .map_err(|e| state_error(path, format!("`{name}`: {e}")))?;
        if view.dtype() != Dtype::U64 {
            return Err(state_error(
                path,
                format!("`{name}` is {:?}, shares are U64", view.dtype()),
            ));
        }
        let ring = RingTensor::new(view.shape(), words(view.data(), u64::from_le_bytes))
            .map_err(|e| state_error(path, e.to_string()))?;
        out.push((name, CrypTensor::from_share(sess, ring)));
    }
    Ok(out)
}
