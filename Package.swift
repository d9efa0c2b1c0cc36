// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Phalanx",
    products: [
        .executable(name: "phalanx", targets: ["phalanx"]),
        .library(name: "PhalanxCore", targets: ["PhalanxCore"]),
        .library(name: "PhalanxNN", targets: ["PhalanxNN"]),
        .library(name: "PhalanxData", targets: ["PhalanxData"]),
        .library(name: "PhalanxDistributed", targets: ["PhalanxDistributed"]),
        .library(name: "PhalanxTraining", targets: ["PhalanxTraining"]),
        .library(name: "PhalanxCoordinator", targets: ["PhalanxCoordinator"]),
        .library(name: "PhalanxAnalysis", targets: ["PhalanxAnalysis"]),
        .library(name: "PhalanxReport", targets: ["PhalanxReport"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // Image-folder data sets: PNG through libpng's simplified API, JPEG through libjpeg-turbo.
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg62-turbo-dev"])]),
        .target(name: "CJPEGShim", dependencies: ["CJPEG"]),
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        .target(name: "CMPIShim", dependencies: ["CMPI"]),
        // Vector kernels (exp, tanh, sigmoid, the LSTM cell) for AVX-512, AVX2 and a generic
        // width in one binary, chosen at run time; optimised in debug builds too, and with
        // every fused multiply-add explicit so that all widths compute the same bits.
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O2", "-ffp-contract=off"])]),
        .target(name: "PhalanxCore", dependencies: ["CBLAS", "CKernels"]),
        .target(name: "PhalanxNN", dependencies: ["PhalanxCore"]),
        .target(name: "PhalanxData", dependencies: ["PhalanxCore", "CZlib", "CPNG", "CJPEGShim"]),
        .target(name: "PhalanxDistributed", dependencies: ["CMPIShim", "PhalanxCore", "PhalanxNN"]),
        // Unsupervised learning on feature matrices: PCA, clustering, mixtures, manifolds.
        .target(name: "PhalanxAnalysis", dependencies: ["CBLAS", "PhalanxCore", "PhalanxData", "PhalanxDistributed"]),
        .target(name: "PhalanxTraining", dependencies: [
            "PhalanxCore", "PhalanxNN", "PhalanxData", "PhalanxDistributed", "PhalanxAnalysis", "CZlib",
            .product(name: "Yams", package: "Yams"),
        ]),
        .target(name: "PhalanxCoordinator", dependencies: [
            "PhalanxCore", "PhalanxNN", "PhalanxData", "PhalanxDistributed", "PhalanxTraining",
            .product(name: "Yams", package: "Yams"),
        ]),
        // `phalanx report`: an HTML page of a run's curves, test-split confusion matrix and mistakes.
        .target(name: "PhalanxReport", dependencies: [
            "PhalanxCore", "PhalanxData", "PhalanxAnalysis", "PhalanxTraining", "PhalanxCoordinator",
        ]),
        .executableTarget(name: "phalanx", dependencies: [
            "PhalanxCore", "PhalanxNN", "PhalanxData", "PhalanxDistributed", "PhalanxTraining", "PhalanxCoordinator",
            "PhalanxAnalysis", "PhalanxReport", "CKernels",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Generated data for the tests and the MPI checks.
        .target(name: "PhalanxTestSupport", dependencies: ["PhalanxCore", "PhalanxData", "PhalanxNN", "PhalanxTraining"],
                path: "Tests/Support"),
        // Checks that need several processes: run under `mpirun -np N` by launch/test.
        .executableTarget(name: "phalanx-mpi-checks", dependencies: [
            "PhalanxCore", "PhalanxNN", "PhalanxData", "PhalanxDistributed", "PhalanxTraining", "PhalanxCoordinator",
            "PhalanxAnalysis", "PhalanxTestSupport",
        ], path: "Tests/MPIChecks"),
        // Fuzz targets for the parsers (libFuzzer with -sanitize=fuzzer -DFUZZING; plainly, a corpus replayer).
        .executableTarget(name: "phalanx-fuzz", dependencies: ["PhalanxData", "PhalanxTraining"], path: "Tests/Fuzz",
                          exclude: ["corpus"]),
        .testTarget(name: "PhalanxCoreTests", dependencies: ["PhalanxCore", "CKernels"]),
        .testTarget(name: "PhalanxNNTests", dependencies: ["PhalanxNN", "PhalanxCore"]),
        .testTarget(name: "PhalanxDataTests", dependencies: ["PhalanxData", "PhalanxCore", "CZlib", "CJPEG"]),
        .testTarget(name: "PhalanxTrainingTests", dependencies: [
            "PhalanxTraining", "PhalanxNN", "PhalanxData", "PhalanxCore", "PhalanxDistributed", "PhalanxTestSupport",
        ]),
        .testTarget(name: "PhalanxReportTests", dependencies: [
            "PhalanxReport", "PhalanxTraining", "PhalanxCoordinator", "PhalanxCore", "PhalanxTestSupport",
        ]),
        .testTarget(name: "PhalanxAnalysisTests", dependencies: ["PhalanxAnalysis", "PhalanxCore", "PhalanxDistributed"]),
        .testTarget(name: "PhalanxCoordinatorTests", dependencies: [
            "PhalanxCoordinator", "PhalanxTraining", "PhalanxNN", "PhalanxData", "PhalanxCore", "PhalanxTestSupport",
        ]),
    ]
)
