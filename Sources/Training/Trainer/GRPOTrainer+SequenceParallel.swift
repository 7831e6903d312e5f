import Engine
import GRPO
import NN

extension GRPOTrainer {
    /// Runs `network`'s sequence-parallel modules (``SequenceParallelizable``) over groups of
    /// `processGroup.gradientShares` consecutive ranks: the whole world when the group is that size, else the world
    /// split into such groups (the back end must split: NCCL and MPI do, the ring does not).
    static func parallelizeSequence(_ network: Module, _ processGroup: ProcessGroup) throws {
        let size = processGroup.gradientShares
        let modules = network.namedModules().compactMap { $0.module as? SequenceParallelizable }
        guard !modules.isEmpty else {
            throw TrainerError.incompatibleWithModel(
                "--sp-size \(size): the \(type(of: network)) network has no sequence-parallel attention (HunyuanVideo, "
                    + "SkyReels-I2V and Wan have)")
        }
        guard let distributed = processGroup as? DistributedProcessGroup else {
            throw TrainerError.incompatibleWithModel("--sp-size \(size) needs a distributed process group")
        }
        let group: DistributedGroup
        if size == distributed.worldSize {
            group = distributed.group
        } else {
            do {
                group = try distributed.group.split(color: distributed.rank / size, key: distributed.rank)
            } catch {
                throw TrainerError.incompatibleWithModel(
                    "--sp-size \(size) of \(distributed.worldSize) processes needs groups of \(size) ranks, which this "
                        + "back end cannot split (\(error)); use --sp-size \(distributed.worldSize) or a back end "
                        + "that splits (nccl, mpi)")
            }
        }
        let parallel = SequenceParallelism(group: group)
        for module in modules { module.sequenceParallel = parallel }
    }
}
