import CDiffusionKernels
import LoRAKit

/// The threads the runtime computes on: how many, and whether they keep to one processor each.
///
/// By default every op uses all the processors the process may run on: the calling thread, helper threads of the
/// runtime's parallel-for, and OpenBLAS's workers for the GEMMs (which never run at the same time as the
/// parallel-for's chunks). Helpers and OpenBLAS's workers keep to one processor each, beside the calling thread,
/// which stays free to move; a program that runs several generations as separate processes on one machine may
/// prefer to leave placement to the scheduler (``pinsWorkerThreads`` false, or `LORAKIT_PIN_THREADS=0` in the
/// environment).
public enum RuntimeThreads {
    /// Threads each op runs on (at least 1): the runtime's parallel-for and OpenBLAS's GEMMs both use this many.
    /// Default: the active processor count.
    public static var count: Int {
        get { Parallel.workerCount }
        set {
            let n = Swift.max(1, newValue)
            Parallel.workerCount = n
            LinearAlgebraSettings.setThreadCount(n)
        }
    }

    /// Whether helper threads and OpenBLAS's workers keep to one processor each (default true, unless the
    /// environment has `LORAKIT_PIN_THREADS=0`). Takes effect for threads started afterwards: set it before the
    /// first generation.
    public static var pinsWorkerThreads: Bool {
        get { Parallel.pinsWorkerThreads }
        set { Parallel.pinsWorkerThreads = newValue }
    }
}
