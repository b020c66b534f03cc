"""Irreps and the representation probes: exact group-theory identities, the DFT on Z_n."""

import numpy as np
import pytest

from explorer.grokking import (Params, conjugacy_classes, group_fourier, group_order,
                               group_table, irreps, neuron_irreps, neuron_spectra)

GROUPS = ["cyclic:7", "cyclic:8", "product:2,3", "dihedral:5", "dihedral:6", "symmetric:3",
          "symmetric:4", "symmetric:5", "alternating:3", "alternating:4", "alternating:5"]

# Textbook character tables, rows up to order, columns at the classes in the order
# conjugacy_classes gives them (by smallest element in lexicographic order):
# S3: e, transpositions, 3-cycles.  S4: e, transpositions, 3-cycles, (01)(23)-type, 4-cycles.
S3_TABLE = [[1, 1, 1], [1, -1, 1], [2, 0, -1]]
S4_TABLE = [[1, 1, 1, 1, 1], [1, -1, 1, 1, -1], [2, 0, -1, 2, 0], [3, 1, 0, -1, -1],
            [3, -1, 0, -1, 1]]


@pytest.mark.parametrize("name", GROUPS)
def test_irreps_are_unitary_homomorphisms_that_fill_the_group(name):
    result = irreps(name)
    table, order = group_table(name), group_order(name)
    assert result.order == order
    assert (result.dims ** 2).sum() == order
    assert len(result.names) == len(conjugacy_classes(name)) == len(result.matrices)
    for rho in result.matrices:
        d = rho.shape[1]
        assert rho.shape == (order, d, d) and rho.dtype == np.complex128
        unitarity = np.einsum("gji,gjk->gik", rho.conj(), rho) - np.eye(d)
        assert np.abs(unitarity).max() < 1e-12
        products = np.einsum("gij,hjk->ghik", rho, rho)  # rho(g) rho(h)
        assert np.abs(products - rho[table]).max() < 1e-12  # = rho(g h)
        assert np.abs(rho[0] - np.eye(d)).max() < 1e-12


@pytest.mark.parametrize("name", GROUPS)
def test_character_orthogonality_rows_and_columns(name):
    result = irreps(name)
    chi = result.characters
    order = result.order
    assert np.abs(chi @ chi.conj().T / order - np.eye(len(chi))).max() < 1e-12
    sizes = np.array([len(c) for c in result.classes])
    columns = result.character_table
    # sum_rho chi(C) conj chi(C') = |G| / |C| delta_CC'
    assert np.abs(columns.conj().T @ columns - np.diag(order / sizes)).max() < 1e-10
    for members in result.classes:  # characters are class functions
        assert np.abs(chi[:, members] - chi[:, members[:1]]).max() < 1e-12


@pytest.mark.parametrize("name", ["symmetric:3", "symmetric:4", "alternating:4", "dihedral:4"])
def test_schur_orthogonality_of_matrix_entries(name):
    result = irreps(name)
    order = result.order
    # every matrix entry as a function on the group, scaled by sqrt(d / M): an orthonormal basis
    columns = np.concatenate([np.sqrt(rho.shape[1] / order) * rho.reshape(order, -1)
                              for rho in result.matrices], axis=1)
    assert columns.shape == (order, order)
    assert np.abs(columns.conj().T @ columns - np.eye(order)).max() < 1e-12


@pytest.mark.parametrize("name, expected", [("symmetric:3", S3_TABLE), ("symmetric:4", S4_TABLE)])
def test_character_tables_match_the_textbook(name, expected):
    table = irreps(name).character_table
    assert np.abs(table.imag).max() < 1e-12
    assert sorted(map(tuple, np.round(table.real).astype(int).tolist())) == sorted(map(tuple, expected))
    assert np.abs(table.real - np.round(table.real)).max() < 1e-12


def test_symmetric_groups_get_real_orthogonal_irreps_and_a4_a_conjugate_pair():
    for name in ("symmetric:3", "symmetric:4", "symmetric:5", "alternating:5", "dihedral:7"):
        result = irreps(name)
        assert max(np.abs(rho.imag).max() for rho in result.matrices) < 1e-12
        assert np.array_equal(result.conjugate, np.arange(len(result.names)))
    a4 = irreps("alternating:4")
    assert a4.names == ("trivial", "1b", "1c", "3")
    assert a4.conjugate.tolist() == [0, 2, 1, 3]
    assert a4.real_classes == ((0,), (1, 2), (3,))


def test_cyclic_irreps_are_the_dft_frequencies():
    result = irreps("cyclic:9")
    k, x = np.meshgrid(np.arange(9), np.arange(9), indexing="ij")
    assert np.abs(result.characters - np.exp(2j * np.pi * k * x / 9)).max() < 1e-12
    assert result.real_names == ("trivial", "k=1", "k=2", "k=3", "k=4")


def test_group_fourier_on_cyclic_groups_is_numpy_fft():
    values = np.random.default_rng(1).standard_normal((11, 3))
    spectrum = group_fourier(values, "cyclic:11")
    coefficients = np.stack([c[..., 0, 0] for c in spectrum.coefficients])
    assert np.allclose(coefficients, np.fft.fft(values, axis=0), atol=1e-12)


@pytest.mark.parametrize("name", ["symmetric:4", "alternating:5", "dihedral:6", "product:2,3"])
def test_group_fourier_inverts_and_keeps_the_power(name):
    values = np.random.default_rng(2).standard_normal((group_order(name), 4))
    spectrum = group_fourier(values, name)
    assert np.allclose(spectrum.inverse(), values, atol=1e-12)
    assert np.allclose(spectrum.power.sum(axis=-1), (values ** 2).sum(axis=0))
    assert np.allclose(spectrum.real_power.sum(axis=-1), (values ** 2).sum(axis=0))
    single = group_fourier(values[:, 0], name)
    assert np.allclose(single.power, spectrum.power[0])


@pytest.mark.parametrize("p", [13, 12])
def test_neuron_probe_on_cyclic_groups_equals_the_dft_probe(p):
    rng = np.random.default_rng(p)
    params = Params(*rng.standard_normal((3, p, 16)))
    probe, spectra = neuron_irreps(params, f"cyclic:{p}"), neuron_spectra(params)
    doubled = np.where((spectra.frequencies > 0) & (2 * spectra.frequencies < p), 2.0, 1.0)
    for ours, dft in ((probe.U_power, spectra.U_power), (probe.V_power, spectra.V_power),
                      (probe.W_power, spectra.W_power)):
        assert np.allclose(ours, dft * doubled / p)
    if p % 2:  # no unpaired Nyquist frequency: the same dominant frequency and share
        assert np.array_equal(probe.dominant_irrep, spectra.dominant_frequency)
        assert np.allclose(probe.dominant_share, spectra.dominant_share)


def test_a_neuron_built_from_one_irrep_is_tuned_to_it():
    result = irreps("symmetric:4")
    target = result.names.index("3b")
    rho = result.matrices[target]
    rng = np.random.default_rng(3)
    # each neuron: real parts of random combinations of the entries of the 3b irrep
    weights = [np.einsum("gij,ijn->gn", rho, rng.standard_normal((3, 3, 6))).real
               for _ in range(3)]
    probe = neuron_irreps(weights, "symmetric:4")
    assert (probe.dominant_irrep == target).all()
    assert np.allclose(probe.dominant_share, 1.0)
    assert probe.histogram.tolist() == [0, 0, 0, 0, 6]
    assert np.allclose(probe.chance_share.sum(), 1.0)


def test_a_task_without_a_group_is_read_on_z_p():
    from explorer.grokking import init_params, make_task

    params = init_params(p=7, width=4)
    by_task = neuron_irreps(params, make_task(p=7))
    assert by_task.group == "cyclic:7"
    assert np.allclose(by_task.U_power, neuron_irreps(params, "cyclic:7").U_power)


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="values"):
        group_fourier(np.ones(5), "symmetric:3")
    with pytest.raises(TypeError, match="values"):
        group_fourier(np.ones(6) + 1j, "symmetric:3")
    with pytest.raises(TypeError, match="group"):
        group_fourier(np.ones(6), 6)
    with pytest.raises(ValueError, match="group"):
        irreps("symmetric:9")
    with pytest.raises(ValueError, match="params"):
        neuron_irreps([np.ones((5, 2))] * 3, "symmetric:3")
    with pytest.raises(TypeError, match="params"):
        neuron_irreps("weights", "symmetric:3")


def test_irreps_hold_read_only_arrays_and_are_cached():
    first = irreps("dihedral:5")
    assert first is irreps("Dihedral:5")
    assert not first.matrices[0].flags.writeable


def test_results_compare_by_identity_and_the_probe_has_the_dft_properties():
    from explorer.grokking import init_params

    params = init_params(p=6, width=4)
    probe, again = neuron_irreps(params, "symmetric:3"), neuron_irreps(params, "symmetric:3")
    same = probe
    assert probe == same and probe != again and isinstance(hash(probe), int)
    assert probe.ipr.shape == (3, 4) and probe.order.shape == (4,)
    assert np.array_equal(probe.dominant_irrep, probe.dominant_frequency)
    spectrum = group_fourier(np.ones(6), "symmetric:3")
    assert isinstance(hash(spectrum), int) and isinstance(hash(irreps("symmetric:3")), int)


def test_irreps_are_the_same_bits_in_fresh_processes_and_thread_counts():
    import os
    import subprocess
    import sys

    script = ("import hashlib; from explorer.grokking import irreps; h = hashlib.sha256()\n"
              "for g in ['symmetric:4', 'alternating:5', 'alternating:4']:\n"
              "    for m in irreps(g).matrices: h.update(m.tobytes())\n"
              "print(h.hexdigest())")
    digests = set()
    for threads in ("1", "2"):
        env = {**os.environ, "OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads,
               "MKL_NUM_THREADS": threads}
        digests.add(subprocess.run([sys.executable, "-c", script], env=env, check=True,
                                   capture_output=True, text=True).stdout.strip())
    assert len(digests) == 1
