//! The routing tables of `viam.app.data.v1.DataService`, `viam.app.datasync.v1.DataSyncService`
//! and `viam.app.dataset.v1.DatasetService`: each RPC served and its handler. RPCs not listed
//! answer UNIMPLEMENTED naming themselves.

use super::{binary, database, datasets, mql, sequences, sql, tabular, upload};
// queries
use super::{indexes, saved_queries, signed_urls};
// sequence exports
use super::sequence_exports;
use crate::proto::viam::app::data::v1::data_service_server::DataService;
use crate::proto::viam::app::data::v1::*;
use crate::proto::viam::app::dataset::v1::dataset_service_server::DatasetService;
use crate::proto::viam::app::dataset::v1::*;
use crate::proto::viam::app::datasync::v1::data_sync_service_server::DataSyncService;
use crate::proto::viam::app::datasync::v1::*;
use crate::server::call::rpc_table;

rpc_table! {
    impl DataService for DataSvc;
    unary {
        tabular_data_by_filter(TabularDataByFilterRequest) -> TabularDataByFilterResponse = tabular::tabular_data_by_filter;
        tabular_data_by_sql(TabularDataBySqlRequest) -> TabularDataBySqlResponse = sql::tabular_data_by_sql;
        tabular_data_by_mql(TabularDataByMqlRequest) -> TabularDataByMqlResponse = mql::tabular_data_by_mql;
        get_latest_tabular_data(GetLatestTabularDataRequest) -> GetLatestTabularDataResponse = tabular::get_latest_tabular_data;
        delete_tabular_data(DeleteTabularDataRequest) -> DeleteTabularDataResponse = tabular::delete_tabular_data;
        binary_data_by_filter(BinaryDataByFilterRequest) -> BinaryDataByFilterResponse = binary::binary_data_by_filter;
        binary_data_by_i_ds(BinaryDataByIDsRequest) -> BinaryDataByIDsResponse = binary::binary_data_by_i_ds;
        delete_binary_data_by_filter(DeleteBinaryDataByFilterRequest) -> DeleteBinaryDataByFilterResponse = binary::delete_binary_data_by_filter;
        delete_binary_data_by_i_ds(DeleteBinaryDataByIDsRequest) -> DeleteBinaryDataByIDsResponse = binary::delete_binary_data_by_i_ds;
        add_tags_to_binary_data_by_i_ds(AddTagsToBinaryDataByIDsRequest) -> AddTagsToBinaryDataByIDsResponse = binary::add_tags_to_binary_data_by_i_ds;
        add_tags_to_binary_data_by_filter(AddTagsToBinaryDataByFilterRequest) -> AddTagsToBinaryDataByFilterResponse = binary::add_tags_to_binary_data_by_filter;
        remove_tags_from_binary_data_by_i_ds(RemoveTagsFromBinaryDataByIDsRequest) -> RemoveTagsFromBinaryDataByIDsResponse = binary::remove_tags_from_binary_data_by_i_ds;
        remove_tags_from_binary_data_by_filter(RemoveTagsFromBinaryDataByFilterRequest) -> RemoveTagsFromBinaryDataByFilterResponse = binary::remove_tags_from_binary_data_by_filter;
        tags_by_filter(TagsByFilterRequest) -> TagsByFilterResponse = binary::tags_by_filter;
        add_bounding_box_to_image_by_id(AddBoundingBoxToImageByIdRequest) -> AddBoundingBoxToImageByIdResponse = binary::add_bounding_box_to_image_by_id;
        remove_bounding_box_from_image_by_id(RemoveBoundingBoxFromImageByIdRequest) -> RemoveBoundingBoxFromImageByIdResponse = binary::remove_bounding_box_from_image_by_id;
        update_bounding_box(UpdateBoundingBoxRequest) -> UpdateBoundingBoxResponse = binary::update_bounding_box;
        bounding_box_labels_by_filter(BoundingBoxLabelsByFilterRequest) -> BoundingBoxLabelsByFilterResponse = binary::bounding_box_labels_by_filter;
        get_database_connection(GetDatabaseConnectionRequest) -> GetDatabaseConnectionResponse = database::get_database_connection;
        configure_database_user(ConfigureDatabaseUserRequest) -> ConfigureDatabaseUserResponse = database::configure_database_user;
        add_binary_data_to_dataset_by_i_ds(AddBinaryDataToDatasetByIDsRequest) -> AddBinaryDataToDatasetByIDsResponse = datasets::add_binary_data_to_dataset_by_i_ds;
        remove_binary_data_from_dataset_by_i_ds(RemoveBinaryDataFromDatasetByIDsRequest) -> RemoveBinaryDataFromDatasetByIDsResponse = datasets::remove_binary_data_from_dataset_by_i_ds;
        // sequences
        create_sequence(CreateSequenceRequest) -> CreateSequenceResponse = sequences::create_sequence;
        get_sequence(GetSequenceRequest) -> GetSequenceResponse = sequences::get_sequence;
        update_sequence(UpdateSequenceRequest) -> UpdateSequenceResponse = sequences::update_sequence;
        delete_sequence(DeleteSequenceRequest) -> DeleteSequenceResponse = sequences::delete_sequence;
        list_sequences(ListSequencesRequest) -> ListSequencesResponse = sequences::list_sequences;
        get_sequence_binary_data(GetSequenceBinaryDataRequest) -> GetSequenceBinaryDataResponse = sequences::get_sequence_binary_data;
        sequences_by_dataset_id(SequencesByDatasetIdRequest) -> SequencesByDatasetIdResponse = sequences::sequences_by_dataset_id;
        add_sequences_to_dataset(AddSequencesToDatasetRequest) -> AddSequencesToDatasetResponse = sequences::add_sequences_to_dataset;
        remove_sequences_from_dataset(RemoveSequencesFromDatasetRequest) -> RemoveSequencesFromDatasetResponse = sequences::remove_sequences_from_dataset;
        // Saved queries, custom indexes, signed URLs.
        create_saved_query(CreateSavedQueryRequest) -> CreateSavedQueryResponse = saved_queries::create_saved_query;
        update_saved_query(UpdateSavedQueryRequest) -> UpdateSavedQueryResponse = saved_queries::update_saved_query;
        get_saved_query(GetSavedQueryRequest) -> GetSavedQueryResponse = saved_queries::get_saved_query;
        delete_saved_query(DeleteSavedQueryRequest) -> DeleteSavedQueryResponse = saved_queries::delete_saved_query;
        list_saved_queries(ListSavedQueriesRequest) -> ListSavedQueriesResponse = saved_queries::list_saved_queries;
        create_index(CreateIndexRequest) -> CreateIndexResponse = indexes::create_index;
        list_indexes(ListIndexesRequest) -> ListIndexesResponse = indexes::list_indexes;
        delete_index(DeleteIndexRequest) -> DeleteIndexResponse = indexes::delete_index;
        create_binary_data_signed_url(CreateBinaryDataSignedUrlRequest) -> CreateBinaryDataSignedUrlResponse = signed_urls::create_binary_data_signed_url;
    }
    server_streaming {
        export_tabular_data(ExportTabularDataRequest) -> stream ExportTabularDataResponse = tabular::export_tabular_data;
    }
    client_streaming {}
}

rpc_table! {
    impl DataSyncService for DataSyncSvc;
    unary {
        data_capture_upload(DataCaptureUploadRequest) -> DataCaptureUploadResponse = upload::data_capture_upload;
    }
    server_streaming {}
    client_streaming {
        file_upload(FileUploadRequest) -> FileUploadResponse = upload::file_upload;
        streaming_data_capture_upload(StreamingDataCaptureUploadRequest) -> StreamingDataCaptureUploadResponse = upload::streaming_data_capture_upload;
    }
}

rpc_table! {
    impl DatasetService for DatasetSvc;
    unary {
        create_dataset(CreateDatasetRequest) -> CreateDatasetResponse = datasets::create_dataset;
        delete_dataset(DeleteDatasetRequest) -> DeleteDatasetResponse = datasets::delete_dataset;
        rename_dataset(RenameDatasetRequest) -> RenameDatasetResponse = datasets::rename_dataset;
        list_datasets_by_organization_id(ListDatasetsByOrganizationIdRequest) -> ListDatasetsByOrganizationIdResponse = datasets::list_datasets_by_organization_id;
        list_datasets_by_i_ds(ListDatasetsByIDsRequest) -> ListDatasetsByIDsResponse = datasets::list_datasets_by_i_ds;
        merge_datasets(MergeDatasetsRequest) -> MergeDatasetsResponse = datasets::merge_datasets;
        // sequence exports
        start_sequence_dataset_export(StartSequenceDatasetExportRequest) -> StartSequenceDatasetExportResponse = sequence_exports::start_sequence_dataset_export;
        get_sequence_dataset_export(GetSequenceDatasetExportRequest) -> GetSequenceDatasetExportResponse = sequence_exports::get_sequence_dataset_export;
    }
    server_streaming {}
    client_streaming {}
}
