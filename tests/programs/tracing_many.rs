//! 2,048 distinct `tracing` callsites, each with a name of its own (`cs_A_B_C_D`, made
//! by nested macros) and the field `n` (its number), each fired once, through
//! `tracing_lttng::layer()`; for `tracing_callsites_by_the_thousand`.

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

fn main() {
    tracing_subscriber::registry()
        .with(tracing_lttng::layer())
        .init();
    many::fire_all();
}

/// 2,048 callsites, each with a name of its own, made by nested macros.
mod many {
    macro_rules! fire {
        ($a:tt $b:tt $c:tt $d:tt) => {
            tracing::info!(
                name: concat!("cs_", $a, "_", $b, "_", $c, "_", $d),
                n = ($a * 512 + $b * 64 + $c * 8 + $d) as u64
            )
        };
    }
    macro_rules! by8 {
        ($m:ident $($p:tt)*) => {
            $m!($($p)* 0); $m!($($p)* 1); $m!($($p)* 2); $m!($($p)* 3);
            $m!($($p)* 4); $m!($($p)* 5); $m!($($p)* 6); $m!($($p)* 7);
        };
    }
    macro_rules! level3 {
        ($a:tt $b:tt $c:tt) => { by8!(fire $a $b $c) };
    }
    macro_rules! level2 {
        ($a:tt $b:tt) => { by8!(level3 $a $b) };
    }
    macro_rules! level1 {
        ($a:tt) => { by8!(level2 $a) };
    }

    pub fn fire_all() {
        level1!(0);
        level1!(1);
        level1!(2);
        level1!(3);
    }
}
