//! Fargate facts both crates need: the valid task cpu/memory combinations (the generator validates
//! against them) and the price table the track handler's cost estimate uses. Prices live here and
//! nowhere else.

use crate::contract::{Architecture, Capacity};

/// One Fargate task size: a cpu value and the memory values allowed with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuSize {
    /// Task cpu units (1024 = 1 vCPU).
    pub cpu: u32,
    /// Smallest memory (MiB).
    pub min_memory: u32,
    /// Largest memory (MiB).
    pub max_memory: u32,
    /// Memory step (MiB) between `min_memory` and `max_memory`.
    pub step: u32,
}

/// All seven Fargate cpu sizes and their memory ranges (Linux).
pub const CPU_SIZES: [CpuSize; 7] = [
    // 0.25 vCPU allows exactly 512, 1024 and 2048: steps of 512 from 512 would also admit 1536.
    CpuSize { cpu: 256, min_memory: 512, max_memory: 2048, step: 512 },
    CpuSize { cpu: 512, min_memory: 1024, max_memory: 4096, step: 1024 },
    CpuSize { cpu: 1024, min_memory: 2048, max_memory: 8192, step: 1024 },
    CpuSize { cpu: 2048, min_memory: 4096, max_memory: 16384, step: 1024 },
    CpuSize { cpu: 4096, min_memory: 8192, max_memory: 30720, step: 1024 },
    CpuSize { cpu: 8192, min_memory: 16384, max_memory: 61440, step: 4096 },
    CpuSize { cpu: 16384, min_memory: 32768, max_memory: 122880, step: 8192 },
];

impl CpuSize {
    /// Looks up a cpu value; `None` when Fargate has no such size.
    pub fn for_cpu(cpu: u32) -> Option<CpuSize> {
        CPU_SIZES.iter().copied().find(|s| s.cpu == cpu)
    }

    /// Whether `memory` (MiB) is allowed with this cpu.
    pub fn allows(&self, memory: u32) -> bool {
        if self.cpu == 256 {
            return matches!(memory, 512 | 1024 | 2048);
        }
        memory >= self.min_memory && memory <= self.max_memory && (memory - self.min_memory).is_multiple_of(self.step)
    }

    /// Human-readable allowed range, for error messages.
    pub fn describe(&self) -> String {
        if self.cpu == 256 {
            return "512, 1024 or 2048".to_string();
        }
        format!("{}-{} in steps of {}", self.min_memory, self.max_memory, self.step)
    }
}

/// Fargate list prices per hour (Linux, us-east-1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    /// USD per vCPU-hour.
    pub vcpu_hour: f64,
    /// USD per GB-hour of memory.
    pub gb_hour: f64,
}

/// On-demand x86-64 price (us-east-1, Linux).
pub const PRICE_X86_64: Price = Price { vcpu_hour: 0.04048, gb_hour: 0.004445 };
/// On-demand ARM64 price (us-east-1, Linux): about 20% below x86-64.
pub const PRICE_ARM64: Price = Price { vcpu_hour: 0.03238, gb_hour: 0.00356 };
/// Fargate Spot price as a fraction of on-demand. Spot prices float; 0.3 is the usual
/// "up to 70% off" and is an estimate, not a bill.
pub const SPOT_FACTOR: f64 = 0.3;
/// Fargate bills at least this many seconds per task.
pub const MINIMUM_BILLED_SECONDS: i64 = 60;

/// Estimated cost in USD of one task: billed from the start of the image pull to the task's stop,
/// rounded up to the second, with Fargate's one-minute minimum.
pub fn estimate_cost(cpu_units: u32, memory_mib: u32, arch: Architecture, capacity: Capacity, billed_ms: i64) -> f64 {
    let seconds = ((billed_ms.max(0) + 999) / 1000).max(MINIMUM_BILLED_SECONDS);
    let hours = seconds as f64 / 3600.0;
    let price = match arch {
        Architecture::X86_64 => PRICE_X86_64,
        Architecture::Arm64 => PRICE_ARM64,
    };
    let vcpu = f64::from(cpu_units) / 1024.0;
    let gb = f64::from(memory_mib) / 1024.0;
    let on_demand = hours * (vcpu * price.vcpu_hour + gb * price.gb_hour);
    match capacity {
        Capacity::Fargate => on_demand,
        Capacity::FargateSpot => on_demand * SPOT_FACTOR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_memory_table_matches_fargate() {
        let quarter = CpuSize::for_cpu(256).expect("256 exists");
        assert!(quarter.allows(512) && quarter.allows(2048));
        assert!(!quarter.allows(1536));
        let one = CpuSize::for_cpu(1024).expect("1024 exists");
        assert!(one.allows(3072) && !one.allows(3000) && !one.allows(9216));
        let eight = CpuSize::for_cpu(8192).expect("8192 exists");
        assert!(eight.allows(20480) && !eight.allows(17408));
        assert!(CpuSize::for_cpu(3072).is_none());
    }

    #[test]
    fn cost_has_a_one_minute_minimum_and_spot_discount() {
        let ten_s = estimate_cost(1024, 2048, Architecture::X86_64, Capacity::Fargate, 10_000);
        let one_min = estimate_cost(1024, 2048, Architecture::X86_64, Capacity::Fargate, 60_000);
        assert_eq!(ten_s, one_min);
        let hour = estimate_cost(1024, 2048, Architecture::X86_64, Capacity::Fargate, 3_600_000);
        assert!((hour - (0.04048 + 2.0 * 0.004445)).abs() < 1e-12);
        let spot = estimate_cost(1024, 2048, Architecture::X86_64, Capacity::FargateSpot, 3_600_000);
        assert!((spot - hour * SPOT_FACTOR).abs() < 1e-12);
        assert!(estimate_cost(1024, 2048, Architecture::Arm64, Capacity::Fargate, 3_600_000) < hour);
    }
}
