//! One figure over several runs (seeds): its median and its seed-to-seed
//! spread, for `kvdash sweep` and `kvdash compare` of sets of runs.

use serde::Serialize;

/// The median and range of the runs that measured a figure.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    /// How many runs measured it.
    pub n: usize,
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    /// `None` when no run measured the figure; NaNs are left out.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Spread> {
        let mut v: Vec<f64> = values.into_iter().filter(|x| !x.is_nan()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Spread {
            n,
            median,
            min: v[0],
            max: v[n - 1],
        })
    }

    /// Whether the difference from `self` to `other` is larger than the
    /// seed-to-seed spread: their ranges do not overlap. With one run on
    /// either side there is no spread to judge by.
    pub fn beyond(&self, other: &Spread) -> Option<bool> {
        if self.n < 2 || other.n < 2 {
            return None;
        }
        Some(self.max < other.min || other.max < self.min)
    }
}

/// `x` for a table: whole numbers as such, else three significant digits.
pub fn num(x: f64) -> String {
    if (x.fract() == 0.0 && x.abs() < 1e15) || x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

impl std::fmt::Display for Spread {
    /// `median [min-max]`, or the median alone when every run agrees.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.min == self.max {
            write!(f, "{}", num(self.median))
        } else {
            write!(
                f,
                "{} [{}-{}]",
                num(self.median),
                num(self.min),
                num(self.max)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_range_of_odd_and_even_counts() {
        let s = Spread::of([5.0, 1.0, 3.0]).unwrap();
        assert_eq!((s.n, s.median, s.min, s.max), (3, 3.0, 1.0, 5.0));
        let s = Spread::of([4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!(s.median, 2.5);
        assert_eq!(Spread::of([]), None);
        assert_eq!(Spread::of([f64::NAN]), None);
        assert_eq!(Spread::of([f64::NAN, 2.0]).unwrap().n, 1);
    }

    #[test]
    fn a_difference_is_beyond_the_spread_only_when_the_ranges_do_not_overlap() {
        let a = Spread::of([10.0, 12.0, 11.0]).unwrap();
        let b = Spread::of([13.0, 15.0]).unwrap();
        let c = Spread::of([12.0, 14.0]).unwrap();
        assert_eq!(a.beyond(&b), Some(true));
        assert_eq!(b.beyond(&a), Some(true));
        assert_eq!(a.beyond(&c), Some(false));
        assert_eq!(a.beyond(&Spread::of([20.0]).unwrap()), None);
    }

    #[test]
    fn shown_as_median_and_range() {
        assert_eq!(Spread::of([1.0, 2.0, 9.0]).unwrap().to_string(), "2 [1-9]");
        assert_eq!(Spread::of([0.5, 0.5]).unwrap().to_string(), "0.500");
        assert_eq!(
            Spread::of([12.34, 15.0, 99.5]).unwrap().to_string(),
            "15 [12.3-99.5]"
        );
    }
}
