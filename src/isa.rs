//! Which vector instructions the hot kernels are compiled for, picked at run time: the normal
//! generator's (explicit intrinsics in `rng`) and the diagonal problems' per-step loops (one
//! portable function compiled three times by `dispatch!`).
//!
//! The kernels do integer arithmetic and single IEEE additions, multiplications and comparisons in
//! a fixed order, and Rust never fuses or reorders floating-point operations, so every variant
//! gives the same bits: the tests check this on every variant the machine has. The build target
//! stays plain x86-64, so one binary runs everywhere.

/// A kernel variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    /// Whatever the build target allows (SSE2 on plain x86-64).
    Portable,
    /// 256-bit vectors (x86-64 with AVX2).
    Avx2,
    /// 512-bit vectors (x86-64 with AVX-512F and DQ).
    Avx512,
}

impl Isa {
    /// The variant the kernels use: the widest this CPU runs, or a narrower one named by the
    /// environment variable `SGD_SDE_ISA` (`portable`, `avx2` or `avx512`; for benchmarks and for
    /// checking that the bits do not change). Read once per process.
    #[inline]
    pub fn detected() -> Self {
        static CHOSEN: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
        *CHOSEN.get_or_init(|| {
            let widest = Self::widest();
            let wanted = match std::env::var("SGD_SDE_ISA").as_deref() {
                Ok("portable") => Isa::Portable,
                Ok("avx2") => Isa::Avx2,
                _ => Isa::Avx512,
            };
            wanted.min(widest)
        })
    }

    /// The widest variant this CPU runs.
    fn widest() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") && std::is_x86_feature_detected!("avx512dq")
            {
                return Isa::Avx512;
            }
            if std::is_x86_feature_detected!("avx2") {
                return Isa::Avx2;
            }
        }
        Isa::Portable
    }

    /// Whether this CPU runs the variant.
    #[inline]
    pub fn is_available(self) -> bool {
        match self {
            Isa::Portable => true,
            Isa::Avx2 => Self::widest() != Isa::Portable,
            Isa::Avx512 => Self::widest() == Isa::Avx512,
        }
    }

    /// Every variant this CPU runs, narrowest first.
    pub fn available() -> Vec<Self> {
        [Isa::Portable, Isa::Avx2, Isa::Avx512]
            .into_iter()
            .filter(|isa| isa.is_available())
            .collect()
    }
}

/// Defines `$name(isa, args...)` that runs the `#[inline(always)]` kernel `$kernel(args...)`
/// compiled for `isa`, or panics if this CPU does not run `isa`. The second form picks among
/// kernels written for each width (`unsafe fn`s with `#[target_feature]`, x86-64 only, and a
/// portable one) instead of compiling one kernel three times.
macro_rules! dispatch {
    ($(#[$doc:meta])* $vis:vis fn $name:ident => { avx512: $k512:path, avx2: $k2:path, portable: $kp:path } ($($arg:ident : $ty:ty),*) $(-> $ret:ty)?) => {
        $(#[$doc])*
        $vis fn $name(isa: $crate::isa::Isa, $($arg: $ty),*) $(-> $ret)? {
            assert!(isa.is_available(), "this CPU cannot run the {isa:?} kernels");
            #[cfg(target_arch = "x86_64")]
            match isa {
                // SAFETY: the assertion above checked that this CPU has the features.
                $crate::isa::Isa::Avx512 => return unsafe { $k512($($arg),*) },
                $crate::isa::Isa::Avx2 => return unsafe { $k2($($arg),*) },
                $crate::isa::Isa::Portable => {}
            }
            $kp($($arg),*)
        }
    };
    ($(#[$doc:meta])* $vis:vis fn $name:ident => $kernel:ident ($($arg:ident : $ty:ty),*) $(-> $ret:ty)?) => {
        $(#[$doc])*
        $vis fn $name(isa: $crate::isa::Isa, $($arg: $ty),*) $(-> $ret)? {
            assert!(isa.is_available(), "this CPU cannot run the {isa:?} kernels");
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512dq")]
                unsafe fn avx512($($arg: $ty),*) $(-> $ret)? { $kernel($($arg),*) }
                #[target_feature(enable = "avx2")]
                unsafe fn avx2($($arg: $ty),*) $(-> $ret)? { $kernel($($arg),*) }
                match isa {
                    // SAFETY: the assertion above checked that this CPU has the features.
                    $crate::isa::Isa::Avx512 => return unsafe { avx512($($arg),*) },
                    $crate::isa::Isa::Avx2 => return unsafe { avx2($($arg),*) },
                    $crate::isa::Isa::Portable => {}
                }
            }
            let _ = isa;
            $kernel($($arg),*)
        }
    };
}
pub(crate) use dispatch;
