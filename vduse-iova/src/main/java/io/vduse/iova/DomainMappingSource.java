package io.vduse.iova;

import java.util.Optional;

/**
 * Translation straight through an {@link IovaDomain}'s IOTLB, in-process: a mapping is a slice
 * of the domain memory, so there is nothing to release.
 */
final class DomainMappingSource implements MappingSource {

    private final IovaDomain domain;

    DomainMappingSource(IovaDomain domain) {
        this.domain = domain;
    }

    @Override
    public Optional<Mapping> resolve(long iova) {
        return domain.findMapping(iova, iova)
                .map(entry -> new Mapping(entry.start(), entry.last(), entry.access(), entry.segment()));
    }

    /** Nothing to do: the slice lives as long as the domain memory. */
    @Override
    public void release(Mapping mapping) {}
}
