"""Reading boundary files: what is accepted, and the error each kind of bad input gets."""

from __future__ import annotations

import zipfile

import numpy as np
import pyproj
import pytest
import shapely

from tests.geo.conftest import BOWTIE, block_features, collection, feature, polygon, square
from watchhouse.geo.sources import AreaSourceError, area_layer_read

UTM10 = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:26910", always_xy=True)


def _utm_square(lon: float, lat: float) -> list[list[list[float]]]:
    ring = square(lon, lat, 0.01)[0]
    return [[list(UTM10.transform(x, y)) for x, y in ring]]


def test_reads_names_codes_population_and_orients_polygons(blocks_file):
    layer = area_layer_read(blocks_file)
    assert [d.name for d in layer.drafts] == [
        "North West",
        "North East",
        "South West",
        "South East",
    ]
    assert [d.code for d in layer.drafts] == ["B1", "B2", "B3", "B4"]
    assert [d.population for d in layer.drafts] == [1000, 2000, 3000, 4000]
    assert [d.slug for d in layer.drafts][0] == "north-west"
    assert layer.crs == "EPSG:4326" and layer.name_field == "name" and layer.code_field == "code"
    assert layer.warnings == []
    # RFC 7946: exterior rings counter-clockwise.
    assert all(d.geometry.exterior.is_ccw for d in layer.drafts)


def test_feature_without_geometry_is_skipped_with_a_warning(write_geojson):
    features = [*block_features(), feature(None, name="Unallocated")]
    layer = area_layer_read(write_geojson(collection(*features)))
    assert len(layer.drafts) == 4
    assert layer.warnings == ["feature 5 (name 'Unallocated') has no geometry and was skipped."]


def test_malformed_json_names_file_line_and_column(write_geojson):
    path = write_geojson('{"type": "FeatureCollection", "features": [\n  {"type": "Feature",, }]}')
    with pytest.raises(AreaSourceError) as caught:
        area_layer_read(path)
    assert str(caught.value).startswith("areas.geojson: the file is not valid JSON:")
    assert "line 2, column" in str(caught.value)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([1, 2], "the file is JSON but not a GeoJSON object"),
        ({"type": "Polygon", "coordinates": []}, "is a GeoJSON 'Polygon', not a FeatureCollection"),
        ({"type": "FeatureCollection"}, "'features' member is missing or not a list"),
        (collection({"type": "Thing"}), "feature 1 is not a GeoJSON Feature object"),
    ],
)
def test_documents_that_are_not_feature_collections(write_geojson, document, message):
    with pytest.raises(AreaSourceError, match=message):
        area_layer_read(write_geojson(document))


def test_self_intersecting_polygon_names_feature_name_and_place(write_geojson):
    path = write_geojson(collection(*block_features(), feature(polygon(BOWTIE), name="Bowtie")))
    with pytest.raises(AreaSourceError) as caught:
        area_layer_read(path)
    message = str(caught.value)
    assert message.startswith("areas.geojson: feature 5 (name 'Bowtie') is not a valid polygon:")
    assert "self-intersection at longitude -90.295000, latitude 38.605000" in message


def test_empty_polygon_is_refused(write_geojson):
    path = write_geojson(collection(feature(polygon([]), name="Nothing")))
    with pytest.raises(AreaSourceError, match=r"feature 1 \(name 'Nothing'\) has an empty polygon"):
        area_layer_read(path)
    path = write_geojson(collection(feature({"type": "MultiPolygon", "coordinates": []}, name="M")))
    with pytest.raises(AreaSourceError, match="feature 1 .* has an empty polygon"):
        area_layer_read(path)


@pytest.mark.parametrize(
    ("geometry", "message"),
    [
        (
            {"type": "Point", "coordinates": [0, 0]},
            "its geometry is a Point; areas must be Polygon",
        ),
        ({"type": "Blob", "coordinates": []}, "its geometry type 'Blob' is not a GeoJSON type"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}, "ring 1 has 3 positions"),
        ({"type": "Polygon", "coordinates": [[[0, "a"], [1, 1], [1, 0], [0, 0]]]}, "ring 1 is not"),
        ("polygon", "its geometry is not a GeoJSON geometry object"),
    ],
)
def test_malformed_geometries_name_the_feature(write_geojson, geometry, message):
    path = write_geojson(collection(feature(geometry, name="Odd")))
    with pytest.raises(AreaSourceError, match=rf"feature 1 \(name 'Odd'\): {message}"):
        area_layer_read(path)


def test_every_problem_is_listed_at_once(write_geojson):
    """One message lists every bad feature, so a file is fixed in one go."""
    features = [
        feature(polygon(BOWTIE), name="A"),
        feature(polygon([]), name="B"),
        feature(polygon(square(0, 0)), name=""),
        feature(polygon(square(0, 0)), name="Fine"),
    ]
    with pytest.raises(AreaSourceError) as caught:
        area_layer_read(write_geojson(collection(*features)))
    message = str(caught.value)
    assert message.startswith("areas.geojson: 3 problems, nothing was imported:\n")
    assert "- feature 3 has no value in the name field 'name'." in message
    assert "- feature 2 (name 'B') has an empty polygon" in message
    assert "- feature 1 (name 'A') is not a valid polygon: self-intersection" in message


def test_unknown_crs_in_the_file_or_the_option(write_geojson, blocks_file):
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::999999"}}
    path = write_geojson(collection(*block_features(), crs=crs))
    with pytest.raises(
        AreaSourceError,
        match="declares the coordinate system 'urn:ogc:def:crs:EPSG::999999', which PROJ does not",
    ):
        area_layer_read(path)
    with pytest.raises(AreaSourceError, match="'EPSG:0' that was given is not known to PROJ"):
        area_layer_read(blocks_file, crs="EPSG:0")


def test_given_crs_replaces_an_unusable_declaration_with_a_warning(write_geojson):
    crs = {"type": "name", "properties": {"name": "EPSG:999999"}}
    document = collection(feature(polygon(_utm_square(-123.1, 49.25)), name="Yaletown"), crs=crs)
    layer = area_layer_read(write_geojson(document), crs="EPSG:26910")
    assert layer.crs == "EPSG:26910"
    assert layer.warnings == [
        "The file's coordinate system (the 'crs' member 'EPSG:999999') was replaced by the one "
        "given, EPSG:26910."
    ]


def test_projected_geojson_is_reprojected_from_its_crs_member(write_geojson):
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::26910"}}
    path = write_geojson(
        collection(feature(polygon(_utm_square(-123.1, 49.25)), name="Yaletown"), crs=crs)
    )
    layer = area_layer_read(path)
    assert layer.crs == "EPSG:26910"
    np.testing.assert_allclose(
        layer.drafts[0].geometry.bounds, (-123.1, 49.25, -123.09, 49.26), atol=1e-7
    )


def test_projected_coordinates_without_a_crs_are_refused_unless_given(write_geojson):
    path = write_geojson(collection(feature(polygon(_utm_square(-123.1, 49.25)), name="Yaletown")))
    with pytest.raises(
        AreaSourceError,
        match=r"no 'crs' member, so its coordinate system is unknown.*give it with --crs",
    ):
        area_layer_read(path)
    layer = area_layer_read(path, crs="EPSG:26910")
    assert layer.drafts[0].geometry.bounds[0] == pytest.approx(-123.1, abs=1e-7)


def test_wrong_crs_that_lands_off_the_globe_is_refused(write_geojson):
    path = write_geojson(collection(feature(polygon(_utm_square(-123.1, 49.25)), name="Yaletown")))
    with pytest.raises(AreaSourceError, match="do not fall on the globe"):
        area_layer_read(path, crs="EPSG:4269")


def test_name_and_code_fields(write_geojson):
    features = [feature(polygon(square(0, 0)), AREA_TXT="Ward One", WARD_NO=1.0)]
    path = write_geojson(collection(*features))
    with pytest.raises(
        AreaSourceError,
        match=r"no field looks like the area name; give it with --name-field \(in the console: "
        r"'Name field'\), one of: AREA_TXT, WARD_NO",
    ):
        area_layer_read(path, name_field=None)
    with pytest.raises(
        AreaSourceError,
        match="has no field 'ward_name' for the area name; its fields are: AREA_TXT, WARD_NO",
    ):
        area_layer_read(path, name_field="ward_name")
    layer = area_layer_read(path, name_field="area_txt", code_field="WARD_NO", kind="ward")
    assert (layer.drafts[0].name, layer.drafts[0].code) == ("Ward One", "1")


def test_duplicate_names_are_refused(write_geojson):
    features = [
        feature(polygon(square(0, 0)), name="Twin"),
        feature(polygon(square(1, 1)), name="twin"),
    ]
    with pytest.raises(AreaSourceError, match="feature 2 .* has the same name as feature 1"):
        area_layer_read(write_geojson(collection(*features)))


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(AreaSourceError, match="nope.geojson: the file does not exist"):
        area_layer_read(tmp_path / "nope.geojson")
    odd = tmp_path / "areas.txt"
    odd.write_text("name,wkt\n")
    with pytest.raises(AreaSourceError, match="not a GeoJSON file"):
        area_layer_read(odd)


# Shapefiles


def test_shapefile_with_prj_is_reprojected(write_shapefile):
    utm = shapely.Polygon(_utm_square(-123.1, 49.25)[0])
    path = write_shapefile(
        [("Yaletown", utm), ("Nowhere", None)], prj=pyproj.CRS("EPSG:26910").to_wkt("WKT1_ESRI")
    )
    layer = area_layer_read(path)
    assert layer.crs == "EPSG:26910"
    assert layer.drafts[0].name == "Yaletown"
    assert layer.drafts[0].geometry.bounds[1] == pytest.approx(49.25, abs=1e-7)
    assert layer.warnings == ["feature 2 (NAME 'Nowhere') has no geometry and was skipped."]


def test_shapefile_without_prj(write_shapefile):
    """No .prj: longitude/latitude coordinates are read as WGS84 with a warning; anything else
    needs --crs, and the message shows the coordinate range."""
    degrees = write_shapefile([("Block", shapely.box(-90.3, 38.6, -90.29, 38.61))], name="deg")
    layer = area_layer_read(degrees)
    assert layer.crs == "EPSG:4326"
    assert "no deg.prj" in layer.warnings[0] and "read as WGS84" in layer.warnings[0]
    feet = write_shapefile(
        [("Block", shapely.box(1_100_000, 1_900_000, 1_101_000, 1_901_000))], name="feet"
    )
    with pytest.raises(
        AreaSourceError,
        match=r"feet.shp: the file has no feet.prj file, so its coordinate system is unknown, "
        r"and its coordinates \(x 1100000 to 1101000",
    ):
        area_layer_read(feet)
    assert area_layer_read(feet, crs="EPSG:3435").drafts[0].geometry.bounds[1] == pytest.approx(
        42.0, abs=0.5
    )


def test_shapefile_without_dbf_is_refused(write_shapefile):
    path = write_shapefile([("Block", shapely.box(0, 0, 1, 1))], name="lonely")
    path.with_suffix(".dbf").unlink()
    with pytest.raises(
        AreaSourceError, match="lonely.shp: the shapefile has no lonely.dbf beside it"
    ):
        area_layer_read(path)


def test_point_shapefile_and_garbage_shapefile_are_refused(tmp_path):
    import shapefile

    with shapefile.Writer(str(tmp_path / "pts"), shapeType=shapefile.POINT) as writer:
        writer.field("NAME", "C")
        writer.point(0, 0)
        writer.record("Spot")
    with pytest.raises(AreaSourceError, match="holds POINT shapes; areas must be polygons"):
        area_layer_read(tmp_path / "pts.shp")
    (tmp_path / "junk.shp").write_bytes(b"not a shapefile at all" * 10)
    (tmp_path / "junk.dbf").write_bytes(b"nor a dbf")
    with pytest.raises(
        AreaSourceError, match="junk.shp: the file is not a readable ESRI shapefile"
    ):
        area_layer_read(tmp_path / "junk.shp")


def test_zipped_shapefile_and_bad_zips(write_shapefile, tmp_path):
    path = write_shapefile(
        [("Block", shapely.box(-90.3, 38.6, -90.29, 38.61))],
        name="blocks",
        prj=pyproj.CRS("EPSG:4326").to_wkt(),
    )
    bundle = tmp_path / "upload.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        for suffix in (".shp", ".shx", ".dbf", ".prj"):
            archive.write(path.with_suffix(suffix), f"folder/blocks{suffix}")
        archive.writestr("__MACOSX/folder/._blocks.shp", b"resource fork")
    layer = area_layer_read(bundle)
    assert layer.source == "upload.zip/blocks.shp"
    assert layer.drafts[0].name == "Block"

    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as archive:
        archive.write(path, "a.shp")
        archive.write(path, "b.shp")
    with pytest.raises(
        AreaSourceError, match="exactly one shapefile .* this one holds: a.shp, b.shp"
    ):
        area_layer_read(two)
    fake = tmp_path / "fake.zip"
    fake.write_bytes(b"PK but not really")
    with pytest.raises(AreaSourceError, match="fake.zip: the file is not a readable zip file"):
        area_layer_read(fake)
