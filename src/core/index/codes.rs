//! 8-bit codes of a snapshot's vectors, for the first pass of a scan over a table
//! no graph serves.
//!
//! Some vectors have no structure a graph can follow (random unit vectors: a graph
//! over 100k of them finds under half of the true neighbours). Then every row must
//! be scored, and a float scan of 100k × 384 values reads 154 MB per query. Codes
//! of one byte per value read a quarter of that, and their integer dot product
//! keeps the ranking: the error is about 1e-3 of cosine, below the gaps between
//! neighbours. The scan keeps a shortlist a few times larger than asked for and
//! scores it again exactly, so the results carry exact scores.

use super::table::VectorTable;

/// Each row as signed bytes, scaled so that its largest magnitude is 127, laid
/// out for the scan: rows go in blocks of [`BLOCK_ROWS`], and within a block the
/// rows' first [`LANES`] codes come one after another, then their next ones, and
/// so on. The scan then reads one sequential stream and each load of the query
/// serves four rows. (Four rows read side by side from the plain row-after-row
/// layout made the 100k scan slower in Chromium, 3.5 against 2.2 ms.) Rows are
/// padded with zeros to a multiple of [`LANES`] codes, and the table to whole blocks.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CodeTable {
    dimension: usize,
    /// `dimension` rounded up to a multiple of [`LANES`].
    padded_dimension: usize,
    codes: Vec<i8>,
    /// Per row: the value one code step stands for.
    steps: Vec<f32>,
}

/// A query scaled to 16-bit integers, zero-padded like the rows, for
/// [`CodeTable::scan`].
pub struct CodedQuery {
    values: Vec<i16>,
    step: f32,
}

const CODE_MAX: f32 = 127.0;
/// Codes one SIMD step multiplies (two i16x8 halves).
const LANES: usize = 16;
/// Rows scored together.
const BLOCK_ROWS: usize = 4;

impl CodeTable {
    pub fn from_table(table: &VectorTable) -> CodeTable {
        let dimension = table.dimension();
        let padded_dimension = dimension.div_ceil(LANES) * LANES;
        let blocks = table.len().div_ceil(BLOCK_ROWS);
        let mut codes = vec![0i8; blocks * BLOCK_ROWS * padded_dimension];
        let mut steps = Vec::with_capacity(table.len());
        let mut row_codes = Vec::with_capacity(padded_dimension);
        for row in 0..table.len() {
            row_codes.clear();
            steps.push(encode(table.row(row), CODE_MAX, &mut row_codes));
            row_codes.resize(padded_dimension, 0);
            let block_start = row / BLOCK_ROWS * BLOCK_ROWS * padded_dimension;
            for (chunk, values) in row_codes.chunks_exact(LANES).enumerate() {
                let at = block_start + (chunk * BLOCK_ROWS + row % BLOCK_ROWS) * LANES;
                codes[at..at + LANES].copy_from_slice(values);
            }
        }
        CodeTable {
            dimension,
            padded_dimension,
            codes,
            steps,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.steps.len()
    }

    /// Scales `query` to integers as large as the accumulator allows: products of
    /// a code (≤ 127) and a query value summed over `dimension` values must stay
    /// inside an i32.
    pub fn code_query(&self, query: &[f32]) -> CodedQuery {
        let limit = (i32::MAX as f32 / (CODE_MAX * self.dimension.max(1) as f32))
            .min(f32::from(i16::MAX))
            .floor();
        let mut values = Vec::with_capacity(self.padded_dimension);
        let step = encode(
            &query[..self.dimension.min(query.len())],
            limit,
            &mut values,
        );
        values.resize(self.padded_dimension, 0);
        CodedQuery { values, step }
    }

    /// Calls `visit` with every row number, in order, and its dot product with
    /// the query, from their codes.
    #[inline]
    pub fn scan(&self, query: &CodedQuery, mut visit: impl FnMut(usize, f32)) {
        if self.padded_dimension == 0 {
            return;
        }
        let blocks = self.codes.chunks_exact(BLOCK_ROWS * self.padded_dimension);
        for (block_number, block) in blocks.enumerate() {
            let first_row = block_number * BLOCK_ROWS;
            let dots = integer_dots(block, &query.values);
            for (row, dot) in (first_row..self.steps.len()).zip(dots) {
                visit(row, dot as f32 * self.steps[row] * query.step);
            }
        }
    }
}

/// A code type the encoder can write: i8 for rows, i16 for queries.
trait Code: Copy {
    fn from_rounded(value: f32) -> Self;
}

impl Code for i8 {
    fn from_rounded(value: f32) -> i8 {
        value as i8
    }
}

impl Code for i16 {
    fn from_rounded(value: f32) -> i16 {
        value as i16
    }
}

/// Appends `vector` scaled so its largest magnitude becomes `largest_code`,
/// rounded to the nearest integer; returns the value of one step.
fn encode<C: Code>(vector: &[f32], largest_code: f32, out: &mut Vec<C>) -> f32 {
    let largest = vector
        .iter()
        .fold(0.0f32, |most, value| most.max(value.abs()));
    if largest == 0.0 {
        out.extend(vector.iter().map(|_| C::from_rounded(0.0)));
        return 0.0;
    }
    let scale = largest_code / largest;
    // `as` truncates toward zero, so adding half away from zero rounds.
    out.extend(
        vector
            .iter()
            .map(|value| C::from_rounded(value * scale + 0.5f32.copysign(*value))),
    );
    largest / largest_code
}

/// Σ codes × query, exactly in 32-bit integers, for each of the
/// [`BLOCK_ROWS`] rows of `block` (interleaved as [`CodeTable`] lays them out).
#[inline]
fn integer_dots(block: &[i8], query: &[i16]) -> [i32; BLOCK_ROWS] {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        integer_dots_simd128(block, query)
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        let mut sums = [0i32; BLOCK_ROWS];
        let chunks = block.chunks_exact(BLOCK_ROWS * LANES);
        for (codes, query) in chunks.zip(query.chunks_exact(LANES)) {
            for (sum, codes) in sums.iter_mut().zip(codes.chunks_exact(LANES)) {
                *sum += codes
                    .iter()
                    .zip(query)
                    .map(|(&code, &value)| i32::from(code) * i32::from(value))
                    .sum::<i32>();
            }
        }
        sums
    }
}

/// Per row and step, sixteen codes as two halves each loaded straight into i16
/// lanes (`v128.load8x8_s`, one instruction), multiplied with the query's
/// matching half and summed in pairs into i32 lanes (`i32x4.dot_i16x8_s`).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn integer_dots_simd128(block: &[i8], query: &[i16]) -> [i32; BLOCK_ROWS] {
    use core::arch::wasm32::*;
    let steps = query.len() / LANES;
    assert!(block.len() >= steps * BLOCK_ROWS * LANES);
    let mut sums = [i32x4_splat(0); BLOCK_ROWS];
    for step in 0..steps {
        // SAFETY: every offset read is inside `query` (step < query.len() / 16)
        // or `block` (asserted above); these loads need no alignment.
        unsafe {
            let query_low = v128_load(query.as_ptr().add(step * LANES) as *const v128);
            let query_high = v128_load(query.as_ptr().add(step * LANES + 8) as *const v128);
            let codes = block.as_ptr().add(step * BLOCK_ROWS * LANES);
            for (row, sum) in sums.iter_mut().enumerate() {
                let row_codes = codes.add(row * LANES);
                let low = i32x4_dot_i16x8(i16x8_load_extend_i8x8(row_codes), query_low);
                let high = i32x4_dot_i16x8(i16x8_load_extend_i8x8(row_codes.add(8)), query_high);
                *sum = i32x4_add(*sum, i32x4_add(low, high));
            }
        }
    }
    sums.map(|sum| {
        i32x4_extract_lane::<0>(sum)
            + i32x4_extract_lane::<1>(sum)
            + i32x4_extract_lane::<2>(sum)
            + i32x4_extract_lane::<3>(sum)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::vector::dot;

    fn unit(values: impl Iterator<Item = f32>) -> Vec<f32> {
        let mut vector: Vec<f32> = values.collect();
        crate::core::embed::l2_normalize(&mut vector);
        vector
    }

    /// Every row's approximate dot product, checking that the scan visits each
    /// row once, in order.
    fn scanned(codes: &CodeTable, query: &CodedQuery) -> Vec<f32> {
        let mut dots = Vec::new();
        codes.scan(query, |row, dot| {
            assert_eq!(row, dots.len());
            dots.push(dot);
        });
        assert_eq!(dots.len(), codes.len());
        dots
    }

    #[test]
    fn code_dots_stay_within_half_a_step_per_value_of_float_dots() {
        for dimension in [3, 16, 17, 384, 768] {
            // Not a multiple of the block: the last rows are scored one by one.
            let rows: Vec<Vec<f32>> = (0..22)
                .map(|row| unit((0..dimension).map(|i| ((i * 7 + row * 13) as f32 * 0.61).sin())))
                .collect();
            let table = VectorTable::from_values(dimension, rows.concat());
            let codes = CodeTable::from_table(&table);
            let query = unit((0..dimension).map(|i| (i as f32 * 0.23).cos()));
            let coded = codes.code_query(&query);
            let dots = scanned(&codes, &coded);
            let query_mass: f32 = query.iter().map(|value| value.abs()).sum();
            for (row, vector) in rows.iter().enumerate() {
                let exact = dot(&query, vector);
                let approximate = dots[row];
                // Rounding moves each value by at most half a step.
                let row_mass: f32 = vector.iter().map(|value| value.abs()).sum();
                let bound = 0.5 * (codes.steps[row] * query_mass + coded.step * row_mass) + 1e-6;
                assert!(
                    (exact - approximate).abs() <= bound,
                    "dimension {dimension}, row {row}: {exact} vs {approximate} (bound {bound})"
                );
                if dimension >= 384 {
                    assert!(
                        (exact - approximate).abs() < 1e-3,
                        "embedding-sized rows are close"
                    );
                }
            }
        }
    }

    #[test]
    fn the_largest_values_take_the_largest_codes_without_overflow() {
        let table = VectorTable::from_values(4, vec![1.0, -1.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0]);
        let codes = CodeTable::from_table(&table);
        assert_eq!(&codes.codes[..4], [127, -127, 64, 0]);
        assert!(
            codes.codes[4..].iter().all(|&code| code == 0),
            "a zero row stays zero, and so does the padding"
        );
        let coded = codes.code_query(&[1.0, -1.0, 1.0, -1.0]);
        assert!(coded.values[..4]
            .iter()
            .all(|value| value.abs() == i16::MAX));
        assert!(coded.values[4..].iter().all(|&value| value == 0), "padding");
        let dots = scanned(&codes, &coded);
        assert_eq!(dots[1], 0.0);
        assert!((dots[0] - 2.5).abs() < 1e-2);
    }
}
