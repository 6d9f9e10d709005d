//! `Variable`: a tensor in the autograd graph, and the backward pass.

use crate::Result;
use crate::Tensor;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
    static NEXT_ID: Cell<u64> = const { Cell::new(0) };
}

/// Whether operations record the graph on this thread (false inside [`no_grad`]).
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(Cell::get)
}

/// Restores gradient recording when dropped.
pub struct NoGradGuard {
    previous: bool,
}

impl NoGradGuard {
    /// Stops recording until the guard is dropped.
    pub fn new() -> Self {
        let previous = GRAD_ENABLED.with(|g| g.replace(false));
        Self { previous }
    }
}

impl Default for NoGradGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.previous));
    }
}

/// Runs `f` without recording the graph (inference, optimizer updates).
pub fn no_grad<T>(f: impl FnOnce() -> T) -> T {
    let _guard = NoGradGuard::new();
    f()
}

/// The gradient rule of a recorded operation: from the output's gradient to one gradient per
/// parent (`None` where a parent needs none).
pub type Backward = Box<dyn Fn(&Tensor) -> Result<Vec<Option<Tensor>>>>;

struct Node {
    name: &'static str,
    parents: Vec<Variable>,
    backward: Backward,
}

struct Inner {
    id: u64,
    value: Tensor,
    requires_grad: bool,
    grad: Rc<RefCell<Option<Tensor>>>,
    node: Option<Node>,
}

/// A tensor in the autograd graph: its value, whether gradients flow to it, its accumulated
/// gradient (leaves), and the operation that produced it (non-leaves). Cheap to clone.
///
/// Variables are per party and per thread (`Rc`), like the program that builds them.
#[derive(Clone)]
pub struct Variable(Rc<Inner>);

impl std::fmt::Debug for Variable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = self.0.node.as_ref().map_or("leaf", |n| n.name);
        write!(
            f,
            "Variable(shape={:?}, op={op}, requires_grad={})",
            self.shape(),
            self.0.requires_grad
        )
    }
}

fn next_id() -> u64 {
    NEXT_ID.with(|n| {
        let id = n.get();
        n.set(id + 1);
        id
    })
}

impl Variable {
    /// A leaf that gradients do not flow to (inputs, targets).
    pub fn constant(value: impl Into<Tensor>) -> Self {
        Self::leaf(value, false)
    }

    /// A leaf; with `requires_grad`, `backward` accumulates its gradient.
    pub fn leaf(value: impl Into<Tensor>, requires_grad: bool) -> Self {
        Self::with_grad_cell(value, requires_grad, Rc::new(RefCell::new(None)))
    }

    /// A leaf whose gradient accumulates in `grad` (shared with an `nn` parameter).
    pub fn with_grad_cell(
        value: impl Into<Tensor>,
        requires_grad: bool,
        grad: Rc<RefCell<Option<Tensor>>>,
    ) -> Self {
        Self(Rc::new(Inner {
            id: next_id(),
            value: value.into(),
            requires_grad,
            grad,
            node: None,
        }))
    }

    /// A user-defined differentiable operation (like a custom `torch.autograd.Function`):
    /// `value` computed from `parents`, and `backward` mapping the output's gradient to one
    /// gradient per parent (`None` where none is needed). Recorded only when gradients are
    /// enabled and some parent requires them.
    pub fn custom_op(
        value: Tensor,
        name: &'static str,
        parents: Vec<Variable>,
        backward: Backward,
    ) -> Self {
        Self::from_op(value, name, parents, backward)
    }

    /// The result of an operation: records the node when gradients are enabled and some parent
    /// needs them.
    pub(crate) fn from_op(
        value: Tensor,
        name: &'static str,
        parents: Vec<Variable>,
        backward: Backward,
    ) -> Self {
        let requires_grad = is_grad_enabled() && parents.iter().any(Variable::requires_grad);
        let node = requires_grad.then(|| Node {
            name,
            parents,
            backward,
        });
        Self(Rc::new(Inner {
            id: next_id(),
            value,
            requires_grad,
            grad: Rc::new(RefCell::new(None)),
            node,
        }))
    }

    /// The value.
    pub fn value(&self) -> &Tensor {
        &self.0.value
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        self.0.value.shape()
    }

    /// Whether gradients flow to this variable.
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad
    }

    /// The accumulated gradient of a leaf (after `backward`).
    pub fn grad(&self) -> Option<Tensor> {
        self.0.grad.borrow().clone()
    }

    /// Clears the accumulated gradient.
    pub fn zero_grad(&self) {
        *self.0.grad.borrow_mut() = None;
    }

    /// The same value, cut from the graph.
    pub fn detach(&self) -> Variable {
        Self::constant(self.0.value.clone())
    }

    /// Back-propagates from this variable with a gradient of ones (a scalar loss, or the sum
    /// of a tensor's elements). Every party must call it: encrypted gradients cost protocols.
    ///
    /// # Errors
    /// Protocol failures in gradient rules.
    pub fn backward(&self) -> Result<()> {
        let ones = ndarray::ArrayD::from_elem(ndarray::IxDyn(self.shape()), 1.0);
        self.backward_with(Tensor::Plain(ones))
    }

    /// Back-propagates `seed` (the gradient of some objective with respect to this variable)
    /// and accumulates gradients in every leaf that requires them.
    ///
    /// # Errors
    /// Protocol failures in gradient rules.
    pub fn backward_with(&self, seed: Tensor) -> Result<()> {
        if !self.requires_grad() {
            return Ok(());
        }
        let order = self.topological_order();
        let mut grads: HashMap<u64, Tensor> = HashMap::new();
        grads.insert(self.0.id, seed);
        for var in order.iter().rev() {
            let Some(g) = grads.remove(&var.0.id) else {
                continue;
            };
            match &var.0.node {
                Some(node) => {
                    let parent_grads = (node.backward)(&g)?;
                    for (parent, pg) in node.parents.iter().zip(parent_grads) {
                        let Some(pg) = pg else { continue };
                        if !parent.requires_grad() {
                            continue;
                        }
                        let acc = match grads.remove(&parent.0.id) {
                            Some(existing) => existing.add(&pg)?,
                            None => pg,
                        };
                        grads.insert(parent.0.id, acc);
                    }
                }
                None => {
                    let mut cell = var.0.grad.borrow_mut();
                    *cell = Some(match cell.take() {
                        Some(existing) => existing.add(&g)?,
                        None => g,
                    });
                }
            }
        }
        Ok(())
    }

    /// Nodes reachable from `self` that require gradients, parents before children.
    fn topological_order(&self) -> Vec<Variable> {
        let mut order = Vec::new();
        let mut seen = HashSet::new();
        // Iterative depth-first search: (variable, children pushed yet).
        let mut stack = vec![(self.clone(), false)];
        while let Some((var, expanded)) = stack.pop() {
            if expanded {
                order.push(var);
                continue;
            }
            if !seen.insert(var.0.id) {
                continue;
            }
            stack.push((var.clone(), true));
            if let Some(node) = &var.0.node {
                for parent in &node.parents {
                    if parent.requires_grad() && !seen.contains(&parent.0.id) {
                        stack.push((parent.clone(), false));
                    }
                }
            }
        }
        order
    }
}
