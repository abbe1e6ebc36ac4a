//! The RFC 7540 §5.3 dependency tree that Node still exposes (RFC 9113
//! deprecates the signals but keeps the frames): built from HEADERS and
//! PRIORITY frames and from our own `priority` calls, it decides which
//! stream's DATA goes next. Nodes exist only for streams something was
//! said about; every other stream is a default child of the root (weight
//! 16), which keeps connections that never use priorities on the plain
//! round-robin path.

use crate::frame::PrioritySpec;
use crate::id_map::IdMap;

pub(crate) const DEFAULT_WEIGHT: u16 = 16;

#[derive(Clone, Debug)]
struct Node {
    parent: u32,
    weight: u16,
    children: Vec<u32>,
}

#[derive(Debug)]
pub(crate) struct PriorityTree {
    nodes: IdMap<Node>,
    root_children: Vec<u32>,
    /// Bound on nodes (streams, closed or idle, that priorities named):
    /// past it, new names are ignored and streams stay default.
    max_nodes: usize,
    /// Some priority information arrived or was set.
    used: bool,
}

impl PriorityTree {
    pub(crate) fn new(max_nodes: usize) -> Self {
        PriorityTree {
            nodes: IdMap::default(),
            root_children: Vec::new(),
            max_nodes,
            used: false,
        }
    }

    /// Whether scheduling should consult the tree at all.
    pub(crate) fn used(&self) -> bool {
        self.used
    }

    pub(crate) fn parent(&self, id: u32) -> u32 {
        self.nodes.get(&id).map_or(0, |n| n.parent)
    }

    pub(crate) fn weight(&self, id: u32) -> u16 {
        self.nodes.get(&id).map_or(DEFAULT_WEIGHT, |n| n.weight)
    }

    /// Node's `sumDependencyWeight`: the weights of the stream's children.
    pub(crate) fn sum_dependency_weight(&self, id: u32) -> u32 {
        self.children(id)
            .iter()
            .map(|c| u32::from(self.weight(*c)))
            .sum()
    }

    fn children(&self, id: u32) -> &[u32] {
        if id == 0 {
            &self.root_children
        } else {
            self.nodes.get(&id).map_or(&[], |n| &n.children)
        }
    }

    fn children_mut(&mut self, id: u32) -> Option<&mut Vec<u32>> {
        if id == 0 {
            Some(&mut self.root_children)
        } else {
            self.nodes.get_mut(&id).map(|n| &mut n.children)
        }
    }

    /// Whether `ancestor` is above `id` in the tree.
    pub(crate) fn is_ancestor(&self, ancestor: u32, id: u32) -> bool {
        let mut cur = self.parent(id);
        // Each step moves to a distinct node, so the walk ends.
        for _ in 0..=self.nodes.len() {
            if cur == ancestor {
                return true;
            }
            if cur == 0 {
                return false;
            }
            cur = self.parent(cur);
        }
        false
    }

    /// The stream's ancestors, nearest first (the root excluded).
    pub(crate) fn ancestors(&self, id: u32) -> impl Iterator<Item = u32> + '_ {
        let mut cur = id;
        let mut steps = 0;
        std::iter::from_fn(move || {
            steps += 1;
            cur = self.parent(cur);
            (cur != 0 && steps <= self.nodes.len()).then_some(cur)
        })
    }

    /// Makes sure `id` has a node (a default child of the root).
    fn ensure(&mut self, id: u32) -> bool {
        if id == 0 || self.nodes.contains_key(&id) {
            return true;
        }
        if self.nodes.len() >= self.max_nodes {
            return false;
        }
        self.nodes.insert(
            id,
            Node {
                parent: 0,
                weight: DEFAULT_WEIGHT,
                children: Vec::new(),
            },
        );
        self.root_children.push(id);
        true
    }

    fn detach(&mut self, id: u32) {
        let parent = self.parent(id);
        if let Some(children) = self.children_mut(parent) {
            children.retain(|&c| c != id);
        }
    }

    fn attach(&mut self, id: u32, parent: u32) {
        if let Some(n) = self.nodes.get_mut(&id) {
            n.parent = parent;
        }
        if let Some(children) = self.children_mut(parent) {
            children.push(id);
        }
    }

    /// Applies a priority signal for `id` (RFC 7540 §5.3.1–5.3.3). The
    /// caller has rejected a stream depending on itself.
    pub(crate) fn set(&mut self, id: u32, spec: PrioritySpec) {
        if id == 0 || spec.dependency == id || !self.ensure(id) {
            return;
        }
        let mut dependency = spec.dependency;
        if !self.ensure(dependency) {
            dependency = 0;
        }
        self.used = true;
        // §5.3.3: a stream made dependent on its own descendant first moves
        // that descendant up to where the stream was.
        if dependency != 0 && self.is_ancestor(id, dependency) {
            let old_parent = self.parent(id);
            self.detach(dependency);
            self.attach(dependency, old_parent);
        }
        self.detach(id);
        if spec.exclusive {
            let adopted = self
                .children_mut(dependency)
                .map(std::mem::take)
                .unwrap_or_default();
            for c in &adopted {
                if let Some(n) = self.nodes.get_mut(c) {
                    n.parent = id;
                }
            }
            if let Some(n) = self.nodes.get_mut(&id) {
                n.children.extend(adopted);
            }
        }
        self.attach(id, dependency);
        if let Some(n) = self.nodes.get_mut(&id) {
            n.weight = spec.weight.clamp(1, 256);
        }
    }

    /// A stream left the tree (§5.3.4): its children take its place,
    /// sharing its weight in proportion to theirs.
    pub(crate) fn remove(&mut self, id: u32) {
        if !self.nodes.contains_key(&id) {
            return;
        }
        self.detach(id);
        let Some(node) = self.nodes.remove(&id) else {
            return;
        };
        let total: u32 = node
            .children
            .iter()
            .map(|c| u32::from(self.weight(*c)))
            .sum();
        for c in node.children {
            if let Some(n) = self.nodes.get_mut(&c) {
                let share = u32::from(node.weight) * u32::from(n.weight) / total.max(1);
                n.weight = share.clamp(1, 256) as u16;
            }
            self.attach(c, node.parent);
        }
    }
}

#[cfg(test)]
mod tests;
