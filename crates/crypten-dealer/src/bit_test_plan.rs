//! The shape of the bit-test circuit (sign bit or zero test of a masked value), computed the
//! same way by the parties and by the dealer, so neither has to send it.
//!
//! The circuit compares a public opened value `c = x + r` with the dealer's mask `r`, held by
//! the parties as XOR-shared bit planes. Its leaves are blocks of [`BLOCK_BITS`] bit positions;
//! for each block the dealer hands out the one-hot encoding of `r`'s block value (XOR-shared),
//! which turns the block's outcome into a *linear* function of the shares with coefficients
//! computed from the public `c`: no interaction at the leaves. Blocks then combine in a tree
//! of arity [`ARITY`], the classic carry-lookahead rule for a comparison, most significant
//! child first:
//!
//! ```text
//! G = G[a-1] ^ E[a-1] G[a-2] ^ E[a-1] E[a-2] G[a-3] ^ ...      (r > c on the node's bits)
//! E = E[a-1] E[a-2] ... E[0]                                  (r == c on the node's bits)
//! ```
//!
//! Each tree level is one round: every variable that appears in a product is opened once,
//! masked, and each product `prod_{v in T} x_v` with `x_v = e_v ^ u_v` (public `e_v`, shared
//! mask `u_v`) expands to `xor_{S subset of T} (prod_{v not in S} e_v) & u_S`, where the dealer
//! provides shares of the mask products `u_S` for `|S| >= 2` (multi-input Beaver triples,
//! over GF(2)). Terms of degree one (`G[a-1]`) are not opened at all. Only what the root needs
//! is computed: the tree is pruned top-down (the lowest child never needs `E` for a `G`).

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What a bit test computes about a shared ring value `x`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BitTest {
    /// `x < 0` read as a two's-complement 64-bit integer: the most significant bit.
    Sign,
    /// `x == 0`.
    Zero,
}

/// Bit positions per leaf block: the dealer sends `2^BLOCK_BITS - 1` one-hot planes per block.
/// Four halves the tree's depth of two-bit blocks for about 140 more dealer bits per element.
pub const BLOCK_BITS: usize = 4;

/// Children per tree node: with 16 leaves, two levels (16 -> 4 -> 1).
pub const ARITY: usize = 4;

/// Which outputs of a node are needed above it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// `G`: the node's `r > c`.
    pub g: bool,
    /// `E`: the node's `r == c`.
    pub e: bool,
}

/// One of a node's two outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `r > c`.
    G,
    /// `r == c`.
    E,
}

/// An output of a node of the level below.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NodeRef {
    /// The node's index in its level.
    pub node: usize,
    /// Which of its outputs.
    pub kind: Kind,
}

/// A leaf: bit positions `lo .. lo + bits` of the compared values.
#[derive(Clone, Debug)]
pub struct Leaf {
    /// The lowest bit position.
    pub lo: usize,
    /// How many bit positions (at most [`BLOCK_BITS`]).
    pub bits: usize,
    /// Which of its outputs the tree uses.
    pub needs: Needs,
    /// Offset of its `2^bits - 1` one-hot planes (values `1..2^bits`) among the dealer's.
    pub onehot: usize,
}

/// Where the shared factor of a term comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Src {
    /// The constant 1 (held by party 0).
    One,
    /// The mask of the level's opened variable.
    Mask(usize),
    /// The dealer's product of several masks (index into [`Level::products`]).
    Product(usize),
}

/// `(AND of the public openings of coef) & src`.
#[derive(Clone, Debug)]
pub struct Term {
    /// The level's opened variables whose public openings are ANDed together.
    pub coef: Vec<usize>,
    /// The shared factor.
    pub src: Src,
}

/// One output of a combine: the XOR of some lower node outputs and of some terms.
#[derive(Clone, Debug, Default)]
pub struct Output {
    /// Lower node outputs XORed in as they are (degree one: never opened).
    pub linear: Vec<NodeRef>,
    /// Products of opened variables, by their expansion over the masks.
    pub terms: Vec<Term>,
}

/// A node of a level: its outputs, present when needed.
#[derive(Clone, Debug)]
pub struct Combine {
    /// `r > c` on the node's bits, when needed above.
    pub g: Option<Output>,
    /// `r == c` on the node's bits, when needed above.
    pub e: Option<Output>,
}

/// One round of the tree.
#[derive(Clone, Debug)]
pub struct Level {
    /// The lower outputs opened (masked) in this round, in order.
    pub inputs: Vec<NodeRef>,
    /// The mask products the dealer provides: indices into `inputs`, at least two each.
    pub products: Vec<Vec<usize>>,
    /// The level's nodes, in order (node `i` is `combines[i]`).
    pub combines: Vec<Combine>,
}

/// The whole circuit for one [`BitTest`].
#[derive(Clone, Debug)]
pub struct Plan {
    /// The test this circuit computes.
    pub test: BitTest,
    /// The blocks of bit positions, least significant first.
    pub leaves: Vec<Leaf>,
    /// Total one-hot planes per 64-lane group.
    pub onehot_planes: usize,
    /// The tree's levels, leaves' parents first; each costs one round.
    pub levels: Vec<Level>,
}

impl Plan {
    /// The circuit for `test`: on bits 0..63 of `c` and `r` for the sign (bit 63 is XORed in
    /// at the end), on all 64 bits for the zero test.
    pub fn new(test: BitTest) -> Plan {
        let width = match test {
            BitTest::Sign => 63,
            BitTest::Zero => 64,
        };
        let mut leaves = Vec::new();
        let (mut lo, mut onehot) = (0, 0);
        while lo < width {
            let bits = BLOCK_BITS.min(width - lo);
            leaves.push(Leaf {
                lo,
                bits,
                needs: Needs::default(),
                onehot,
            });
            onehot += (1 << bits) - 1;
            lo += bits;
        }
        // Node counts per depth, leaves first.
        let mut counts = vec![leaves.len()];
        while let Some(&top) = counts.last().filter(|&&c| c > 1) {
            counts.push(top.div_ceil(ARITY));
        }
        // Needs, from the root down.
        let mut needs: Vec<Vec<Needs>> =
            counts.iter().map(|&c| vec![Needs::default(); c]).collect();
        needs[counts.len() - 1][0] = match test {
            BitTest::Sign => Needs { g: true, e: false },
            BitTest::Zero => Needs { g: false, e: true },
        };
        for depth in (1..counts.len()).rev() {
            for j in 0..counts[depth] {
                let parent = needs[depth][j];
                for (i, child) in children(j, counts[depth - 1]).enumerate() {
                    needs[depth - 1][child] = Needs {
                        g: parent.g,
                        // The lowest child's E only matters for the node's own E.
                        e: parent.e || (parent.g && i > 0),
                    };
                }
            }
        }
        for (leaf, &n) in leaves.iter_mut().zip(&needs[0]) {
            leaf.needs = n;
        }
        let levels = (1..counts.len())
            .map(|depth| build_level(counts[depth - 1], &needs[depth]))
            .collect();
        Plan {
            test,
            leaves,
            onehot_planes: onehot,
            levels,
        }
    }
}

/// The children (in the level below, least significant first) of node `j`.
fn children(j: usize, below: usize) -> std::ops::Range<usize> {
    j * ARITY..((j + 1) * ARITY).min(below)
}

/// The variables, mask products and terms of one level whose nodes need `needs`.
fn build_level(below: usize, needs: &[Needs]) -> Level {
    let mut level = Level {
        inputs: Vec::new(),
        products: Vec::new(),
        combines: Vec::new(),
    };
    let mut var_index: HashMap<NodeRef, usize> = HashMap::new();
    let mut product_index: HashMap<Vec<usize>, usize> = HashMap::new();
    for (j, need) in needs.iter().enumerate() {
        let kids: Vec<usize> = children(j, below).collect();
        let g_monomials: Vec<Vec<NodeRef>> = (0..kids.len())
            .map(|i| {
                let mut m = vec![NodeRef {
                    node: kids[i],
                    kind: Kind::G,
                }];
                m.extend(kids[i + 1..].iter().map(|&node| NodeRef {
                    node,
                    kind: Kind::E,
                }));
                m
            })
            .collect();
        let e_monomial: Vec<NodeRef> = kids
            .iter()
            .map(|&node| NodeRef {
                node,
                kind: Kind::E,
            })
            .collect();
        let mut output = |monomials: &[Vec<NodeRef>]| {
            let mut out = Output::default();
            for m in monomials {
                if let [single] = m[..] {
                    out.linear.push(single);
                    continue;
                }
                let vars: Vec<usize> = m
                    .iter()
                    .map(|r| {
                        *var_index.entry(*r).or_insert_with(|| {
                            level.inputs.push(*r);
                            level.inputs.len() - 1
                        })
                    })
                    .collect();
                for subset in 0u32..1 << vars.len() {
                    let (inside, outside): (Vec<_>, Vec<_>) = vars
                        .iter()
                        .enumerate()
                        .partition(|&(i, _)| subset >> i & 1 == 1);
                    let mut inside: Vec<usize> = inside.into_iter().map(|(_, &v)| v).collect();
                    let coef = outside.into_iter().map(|(_, &v)| v).collect();
                    let src = match inside.len() {
                        0 => Src::One,
                        1 => Src::Mask(inside[0]),
                        _ => {
                            inside.sort_unstable();
                            Src::Product(*product_index.entry(inside.clone()).or_insert_with(
                                || {
                                    level.products.push(inside);
                                    level.products.len() - 1
                                },
                            ))
                        }
                    };
                    out.terms.push(Term { coef, src });
                }
            }
            out
        };
        let g = need.g.then(|| output(&g_monomials));
        let e = need.e.then(|| output(std::slice::from_ref(&e_monomial)));
        level.combines.push(Combine { g, e });
    }
    level
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_plan_has_two_pruned_levels() {
        let plan = Plan::new(BitTest::Sign);
        assert_eq!(plan.leaves.len(), 16);
        assert_eq!(plan.leaves[15].bits, 3);
        assert_eq!(plan.onehot_planes, 15 * 15 + 7);
        assert_eq!(plan.levels.len(), 2);
        // Lowest leaf of the lowest node: G only.
        assert_eq!(plan.leaves[0].needs, Needs { g: true, e: false });
        assert_eq!(plan.leaves[1].needs, Needs { g: true, e: true });
        let (l1, l2) = (&plan.levels[0], &plan.levels[1]);
        // Node 0 needs G only (6 opened, 15 products); nodes 1-3 need G and E (7, 22).
        assert_eq!(l1.inputs.len(), 6 + 3 * 7);
        assert_eq!(l1.products.len(), 15 + 3 * 22);
        assert_eq!((l2.inputs.len(), l2.products.len()), (6, 15));
        assert!(l2.combines[0].e.is_none());
    }

    #[test]
    fn zero_plan_needs_only_equalities() {
        let plan = Plan::new(BitTest::Zero);
        assert_eq!(plan.leaves.len(), 16);
        assert!(
            plan.leaves
                .iter()
                .all(|l| l.needs == Needs { g: false, e: true })
        );
        let counts: Vec<_> = plan
            .levels
            .iter()
            .map(|l| (l.inputs.len(), l.products.len()))
            .collect();
        assert_eq!(counts, vec![(16, 44), (4, 11)]);
    }
}
