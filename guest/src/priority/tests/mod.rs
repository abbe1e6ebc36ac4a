use super::{DEFAULT_WEIGHT, PriorityTree};
use crate::frame::PrioritySpec;

fn spec(dependency: u32, weight: u16, exclusive: bool) -> PrioritySpec {
    PrioritySpec {
        dependency,
        exclusive,
        weight,
    }
}

#[test]
fn unknown_streams_are_default_children_of_the_root() {
    let t = PriorityTree::new(100);
    assert!(!t.used());
    assert_eq!((t.parent(7), t.weight(7)), (0, DEFAULT_WEIGHT));
    assert_eq!(t.sum_dependency_weight(0), 0);
}

#[test]
fn exclusive_dependency_adopts_the_siblings() {
    // RFC 7540 §5.3.1 figure: A has B and C; D exclusive on A.
    let mut t = PriorityTree::new(100);
    t.set(3, spec(1, 16, false));
    t.set(5, spec(1, 16, false));
    t.set(7, spec(1, 32, true));
    assert_eq!(t.parent(7), 1);
    assert_eq!((t.parent(3), t.parent(5)), (7, 7));
    assert_eq!(t.sum_dependency_weight(1), 32);
    assert_eq!(t.sum_dependency_weight(7), 32);
}

#[test]
fn depending_on_a_descendant_moves_it_up_first() {
    // §5.3.3: A(1) ← B(3) ← C(5); making A depend on C moves C under A's
    // old parent (the root), then A under C.
    let mut t = PriorityTree::new(100);
    t.set(3, spec(1, 16, false));
    t.set(5, spec(3, 16, false));
    t.set(1, spec(5, 16, false));
    assert_eq!(t.parent(5), 0);
    assert_eq!(t.parent(1), 5);
    assert_eq!(t.parent(3), 1);
    assert!(t.is_ancestor(5, 3));
    assert_eq!(t.ancestors(3).collect::<Vec<_>>(), [1, 5]);
}

#[test]
fn removal_hands_the_weight_to_the_children() {
    let mut t = PriorityTree::new(100);
    t.set(1, spec(0, 64, false));
    t.set(3, spec(1, 10, false));
    t.set(5, spec(1, 30, false));
    t.remove(1);
    assert_eq!((t.parent(3), t.parent(5)), (0, 0));
    assert_eq!((t.weight(3), t.weight(5)), (16, 48));
}

#[test]
fn the_node_count_is_bounded() {
    let mut t = PriorityTree::new(3);
    t.set(1, spec(0, 10, false));
    t.set(3, spec(1, 10, false));
    t.set(5, spec(3, 10, false));
    t.set(7, spec(5, 99, false));
    assert_eq!(t.weight(7), DEFAULT_WEIGHT, "no room for a fourth node");
    // A known stream naming an unknown parent falls back to the root.
    t.set(5, spec(9, 50, false));
    assert_eq!((t.parent(5), t.weight(5)), (0, 50));
}

#[test]
fn self_dependency_and_stream_zero_are_ignored() {
    let mut t = PriorityTree::new(10);
    t.set(1, spec(1, 99, false));
    t.set(0, spec(1, 99, false));
    assert!(!t.used());
}
