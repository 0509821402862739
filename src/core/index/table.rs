//! Vectors stored row after row, and the HNSW point type that refers into them.

use std::cell::RefCell;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::core::vector::dot;

/// Fixed-dimension vectors, contiguous (cache-friendly exact scans).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VectorTable {
    dimension: usize,
    values: Vec<f32>,
}

impl VectorTable {
    pub fn new(dimension: usize) -> VectorTable {
        VectorTable {
            dimension,
            values: Vec::new(),
        }
    }

    pub fn from_values(dimension: usize, values: Vec<f32>) -> VectorTable {
        debug_assert_eq!(values.len() % dimension.max(1), 0);
        VectorTable { dimension, values }
    }

    pub fn dimension(&self) -> usize {
        self.dimension
    }

    pub fn len(&self) -> usize {
        self.values.len().checked_div(self.dimension).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn row(&self, row: usize) -> &[f32] {
        &self.values[row * self.dimension..(row + 1) * self.dimension]
    }

    pub fn push(&mut self, vector: &[f32]) {
        self.values.extend_from_slice(vector);
    }

    /// Moves the last row into `row` (order is not kept; O(1) removal).
    pub fn swap_remove(&mut self, row: usize) {
        let last = self.len() - 1;
        if row != last {
            let (head, tail) = self.values.split_at_mut(last * self.dimension);
            head[row * self.dimension..(row + 1) * self.dimension].copy_from_slice(tail);
        }
        self.values.truncate(last * self.dimension);
    }
}

/// A point of the HNSW graph: a row of the snapshot's table, or the query.
///
/// Only rows are ever stored in the graph, and they serialise as their row number:
/// the vectors themselves live once, in the vectors store, not again in every
/// saved snapshot.
#[derive(Clone, Debug)]
pub enum GraphPoint {
    Row { table: Arc<VectorTable>, row: u32 },
    Query(Arc<[f32]>),
}

impl GraphPoint {
    fn vector(&self) -> &[f32] {
        match self {
            GraphPoint::Row { table, row } => table.row(*row as usize),
            GraphPoint::Query(vector) => vector,
        }
    }

    pub fn row(&self) -> Option<u32> {
        match self {
            GraphPoint::Row { row, .. } => Some(*row),
            GraphPoint::Query(_) => None,
        }
    }
}

impl instant_distance::Point for GraphPoint {
    /// Cosine distance between unit vectors.
    fn distance(&self, other: &Self) -> f32 {
        1.0 - dot(self.vector(), other.vector())
    }
}

impl Serialize for GraphPoint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            GraphPoint::Row { row, .. } => serializer.serialize_u32(*row),
            GraphPoint::Query(_) => Err(serde::ser::Error::custom(
                "a query point is never part of a stored graph",
            )),
        }
    }
}

thread_local! {
    /// The table rows refer to while a graph is being deserialised. serde's derive
    /// (which instant-distance uses) cannot pass context, so it is set around the
    /// call by [`with_table`].
    static DESERIALIZING: RefCell<Option<Arc<VectorTable>>> = const { RefCell::new(None) };
}

/// Runs `read` with `table` as the table that deserialised rows refer to.
pub fn with_table<T>(table: Arc<VectorTable>, read: impl FnOnce() -> T) -> T {
    let previous = DESERIALIZING.with(|slot| slot.replace(Some(table)));
    let result = read();
    DESERIALIZING.with(|slot| slot.replace(previous));
    result
}

impl<'de> Deserialize<'de> for GraphPoint {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let row = u32::deserialize(deserializer)?;
        let table = DESERIALIZING
            .with(|slot| slot.borrow().clone())
            .ok_or_else(|| serde::de::Error::custom("no vector table to read a graph against"))?;
        if row as usize >= table.len() {
            return Err(serde::de::Error::custom(format!(
                "graph row {row} is outside the table of {} vectors",
                table.len()
            )));
        }
        Ok(GraphPoint::Row { table, row })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swap_remove_moves_the_last_row_into_the_gap() {
        let mut table = VectorTable::new(2);
        for row in [[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]] {
            table.push(&row);
        }
        table.swap_remove(0);
        assert_eq!(table.len(), 2);
        assert_eq!(table.row(0), [3.0, 3.0]);
        table.swap_remove(1);
        assert_eq!(table.row(0), [3.0, 3.0]);
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn points_round_trip_as_row_numbers_against_a_given_table() {
        let table = Arc::new(VectorTable::from_values(2, vec![1.0, 0.0, 0.0, 1.0]));
        let point = GraphPoint::Row {
            table: table.clone(),
            row: 1,
        };
        let bytes = postcard::to_allocvec(&point).unwrap();
        assert_eq!(bytes.len(), 1, "a row number, not a vector");
        let back: GraphPoint = with_table(table.clone(), || postcard::from_bytes(&bytes)).unwrap();
        assert_eq!(back.row(), Some(1));
        assert!(
            postcard::from_bytes::<GraphPoint>(&bytes).is_err(),
            "no table, no point"
        );
        let outside = postcard::to_allocvec(&5u32).unwrap();
        assert!(with_table(table, || postcard::from_bytes::<GraphPoint>(&outside)).is_err());
    }
}
